"""Settings pages through Django's test client: who sees and changes what, tenant isolation,
errors beside the field with nothing saved, the API's role rules, query counts."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stratus.accounts.models import ApiToken, Invitation, Membership, Organization, Role, User
from stratus.accounts.services import token_create
from stratus.crm import services as crm_services
from stratus.crm.models import Contact, CustomField, Pipeline, Stage, StageKind, Tag
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
PAGES = ["members", "tokens", "fields", "pipelines", "tags", "rates"]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _owner(org: Organization) -> User:
    return Membership.objects.get(organization=org, role=Role.OWNER).user


def _pipeline(org: Organization, name: str = "Sales") -> Pipeline:
    return crm_services.pipeline_create(org=org, actor=None, name=name)


def _state() -> tuple:
    """Every row the settings pages write."""
    return (
        sorted(Membership.objects.values_list("pk", "role")),
        sorted(Invitation.objects.values_list("email", "role", "revoked_at")),
        sorted(ApiToken.objects.values_list("name", "role", "revoked_at")),
        sorted(CustomField.objects.values_list("key", "label", "required")),
        sorted(Pipeline.objects.values_list("pk", "name")),
        sorted(Stage.objects.values_list("pk", "name", "position", "probability", "kind")),
        sorted(Tag.objects.values_list("pk", "name")),
    )


# --- who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_admins_see_edit_controls(page: str) -> None:
    org = make_organization()
    _pipeline(org)
    admin = make_member(org, Role.ADMIN).user
    response = _client(admin).get(reverse(f"web:settings-{page}"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="read-only"' not in body
    assert '<a href="/settings" aria-current="page">Settings</a>' in body  # the sidebar link


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
@pytest.mark.parametrize("page", PAGES)
def test_members_and_viewers_read_without_edit_controls(page: str, role: Role) -> None:
    org = make_organization()
    pipeline = _pipeline(org)
    Tag.objects.create(organization=org, name="vip")
    crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="tier", label="Tier", field_type="text"
    )
    user = make_member(org, role).user
    response = _client(user).get(reverse(f"web:settings-{page}"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="read-only"' in body
    assert 'method="post" action="/settings/' not in body
    if page == "tokens":
        assert 'data-testid="tokens-hidden"' in body
    if page == "pipelines":
        assert pipeline.stages.first().name in body  # type: ignore[union-attr]


def test_the_api_tokens_of_the_organization_are_hidden_from_members() -> None:
    org = make_organization()
    owner = _owner(org)
    token_create(org=org, actor=owner, name="ci-secret-name", role=Role.MEMBER)
    member = make_member(org, Role.MEMBER).user
    assert "ci-secret-name" not in _client(member).get(reverse("web:settings-tokens")).content.decode()
    assert "ci-secret-name" in _client(owner).get(reverse("web:settings-tokens")).content.decode()


def test_a_visitor_is_sent_to_sign_in() -> None:
    response = Client().get(reverse("web:settings-members"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


WRITES = [
    ("web:settings-member-invite", (), {"invite-email": "new@example.com", "invite-role": "viewer"}),
    ("web:settings-token-create", (), {"token-name": "ci", "token-role": "viewer"}),
    (
        "web:settings-field-create",
        (),
        {"field-entity": "contact", "field-key": "size", "field-label": "Size", "field-field_type": "text"},
    ),
    ("web:settings-pipeline-create", (), {"pipeline-name": "Renewals"}),
    ("web:settings-tag-rename", ("tag",), {"t{tag}-name": "gold"}),
    ("web:settings-tag-delete", ("tag",), {}),
    ("web:settings-stage-delete", ("stage",), {}),
    ("web:settings-pipeline-delete", ("pipeline",), {}),
    ("web:settings-member-remove", ("membership",), {}),
]


def _world() -> dict:
    org = make_organization()
    pipeline = _pipeline(org)
    return {
        "org": org,
        "tag": Tag.objects.create(organization=org, name="vip").pk,
        "stage": pipeline.stages.order_by("position").first().pk,  # type: ignore[union-attr]
        "pipeline": pipeline.pk,
        "membership": make_member(org, Role.VIEWER).pk,
    }


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
@pytest.mark.parametrize(("name", "args", "data"), WRITES)
def test_the_server_refuses_the_writes_of_members_and_viewers(
    name: str, args: tuple, data: dict, role: Role
) -> None:
    world = _world()
    user = make_member(world["org"], role).user
    before = _state()
    response = _client(user).post(
        reverse(name, args=[world[a] for a in args]),
        {key.format(**world): value for key, value in data.items()},
    )
    assert response.status_code == 403
    assert _state() == before
    assert mail.outbox == []


@pytest.mark.parametrize(("name", "args", "data"), [w for w in WRITES if w[1]])
def test_a_record_of_another_organization_is_a_404(name: str, args: tuple, data: dict) -> None:
    mine, theirs = _world(), _world()
    admin = make_member(mine["org"], Role.OWNER).user
    before = _state()
    response = _client(admin).post(
        reverse(name, args=[theirs[a] for a in args]),
        {key.format(**theirs): value for key, value in data.items()},
    )
    assert response.status_code == 404
    assert _state() == before


def test_another_organizations_member_role_and_token_are_404() -> None:
    mine, theirs = make_organization(), make_organization()
    owner = _owner(mine)
    other = make_member(theirs, Role.MEMBER)
    issued = token_create(org=theirs, actor=_owner(theirs), name="theirs", role=Role.MEMBER)
    client = _client(owner)
    before = _state()
    role = client.post(reverse("web:settings-member-role", args=[other.pk]), {f"m{other.pk}-role": "viewer"})
    revoke = client.post(reverse("web:settings-token-revoke", args=[issued.token.pk]))
    assert (role.status_code, revoke.status_code) == (404, 404)
    assert _state() == before


# --- members ----------------------------------------------------------------------------------


def test_an_admin_invites_by_email_with_a_role(django_capture_on_commit_callbacks) -> None:
    org = make_organization()
    admin = make_member(org, Role.ADMIN).user
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(admin).post(
            reverse("web:settings-member-invite"),
            {"invite-email": "Ann@Example.com", "invite-role": "member"},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(organization=org)
    assert (invitation.email, invitation.role) == ("ann@example.com", Role.MEMBER)
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    page = _client(admin).get(reverse("web:settings-members")).content.decode()
    assert "ann@example.com" in page


def test_nobody_grants_above_their_own_role_and_the_message_is_beside_the_field() -> None:
    org = make_organization()
    admin = make_member(org, Role.ADMIN).user
    before = _state()
    response = _client(admin).post(
        reverse("web:settings-member-invite"), {"invite-email": "boss@example.com", "invite-role": "owner"}
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "Only owners can grant the owner role." in body
    assert 'value="boss@example.com"' in body  # what was typed stays
    assert _state() == before
    assert mail.outbox == []


def test_an_invalid_email_is_shown_beside_the_field_and_nothing_is_sent() -> None:
    org = make_organization()
    response = _client(_owner(org)).post(
        reverse("web:settings-member-invite"), {"invite-email": "not-an-address", "invite-role": "member"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_invite-email-error"' in body
    assert 'aria-invalid="true"' in body
    assert Invitation.objects.count() == 0


def test_an_owner_changes_a_role_and_an_admin_cannot_touch_an_admin() -> None:
    org = make_organization()
    owner = _owner(org)
    member = make_member(org, Role.MEMBER)
    response = _client(owner).post(
        reverse("web:settings-member-role", args=[member.pk]), {f"m{member.pk}-role": "admin"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == Role.ADMIN

    admin = make_member(org, Role.ADMIN).user
    response = _client(admin).post(
        reverse("web:settings-member-role", args=[member.pk]), {f"m{member.pk}-role": "viewer"}
    )
    assert response.status_code == 403
    assert "Only owners can change or remove a member with the admin role." in response.content.decode()
    member.refresh_from_db()
    assert member.role == Role.ADMIN


def test_the_last_owner_can_neither_be_demoted_nor_leave() -> None:
    org = make_organization()
    owner = _owner(org)
    ownership = Membership.objects.get(organization=org, user=owner)
    client = _client(owner)
    demote = client.post(
        reverse("web:settings-member-role", args=[ownership.pk]), {f"m{ownership.pk}-role": "admin"}
    )
    assert demote.status_code == 422
    assert "The last owner cannot be demoted." in demote.content.decode()
    leave = client.post(reverse("web:settings-member-remove", args=[ownership.pk]))
    assert leave.status_code == 409
    assert "last owner" in leave.content.decode()
    ownership.refresh_from_db()
    assert ownership.role == Role.OWNER


def test_an_admin_removes_a_member_and_their_tokens_stop() -> None:
    org = make_organization()
    admin = make_member(org, Role.ADMIN).user
    member = make_member(org, Role.MEMBER)
    token_create(org=org, actor=member.user, name="theirs", role=Role.MEMBER)
    response = _client(admin).post(reverse("web:settings-member-remove", args=[member.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert ApiToken.objects.get(name="theirs").revoked_at is not None


# --- API tokens -------------------------------------------------------------------------------


def test_a_token_secret_is_shown_once_and_works_and_revoking_stops_it() -> None:
    org = make_organization()
    admin = make_member(org, Role.ADMIN).user
    client = _client(admin)
    created = client.post(reverse("web:settings-token-create"), {"token-name": "CI", "token-role": "member"})
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    body = created.content.decode()
    token = ApiToken.objects.get(organization=org, name="CI")
    secret = body.split('id="token-secret" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith("str") or len(secret) > 20
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/contacts").status_code == 200
    # The list shows it, never its secret again.
    listed = client.get(reverse("web:settings-tokens")).content.decode()
    assert "CI" in listed
    assert secret not in listed
    revoked = client.post(reverse("web:settings-token-revoke", args=[token.pk]))
    assert revoked.status_code == 302
    assert api.get("/api/v1/contacts").status_code == 401


def test_an_admin_cannot_create_an_owner_token() -> None:
    org = make_organization()
    admin = make_member(org, Role.ADMIN).user
    response = _client(admin).post(
        reverse("web:settings-token-create"), {"token-name": "root", "token-role": "owner"}
    )
    assert response.status_code == 403
    assert "cannot create a token with the owner role" in response.content.decode()
    assert not ApiToken.objects.filter(name="root").exists()


def test_a_blank_token_name_is_shown_beside_the_field() -> None:
    org = make_organization()
    response = _client(_owner(org)).post(
        reverse("web:settings-token-create"), {"token-name": "", "token-role": "member"}
    )
    assert response.status_code == 400
    assert 'id="id_token-name-error"' in response.content.decode()
    assert ApiToken.objects.filter(organization=org).count() == 0


# --- custom fields ----------------------------------------------------------------------------


def test_custom_fields_are_added_changed_and_deleted_with_the_crm_rules() -> None:
    org = make_organization()
    client = _client(_owner(org))
    created = client.post(
        reverse("web:settings-field-create"),
        {
            "field-entity": "contact",
            "field-key": "tier",
            "field-label": "Tier",
            "field-field_type": "choice",
            "field-choices": "gold, silver\nbronze",
        },
    )
    assert created.status_code == 302
    field = CustomField.objects.get(organization=org, key="tier")
    assert field.choices == ["gold", "silver", "bronze"]

    duplicate = client.post(
        reverse("web:settings-field-create"),
        {"field-entity": "contact", "field-key": "tier", "field-label": "Again", "field-field_type": "text"},
    )
    assert duplicate.status_code in (400, 409)
    assert 'id="id_field-key-error"' in duplicate.content.decode()
    bad_key = client.post(
        reverse("web:settings-field-create"),
        {"field-entity": "contact", "field-key": "Bad Key", "field-label": "X", "field-field_type": "text"},
    )
    assert bad_key.status_code == 400
    assert 'id="id_field-key-error"' in bad_key.content.decode()
    assert CustomField.objects.filter(organization=org).count() == 1

    changed = client.post(
        reverse("web:settings-field-update", args=[field.pk]),
        {f"f{field.pk}-label": "Level", f"f{field.pk}-choices": "gold", f"f{field.pk}-required": "on"},
    )
    assert changed.status_code == 302
    field.refresh_from_db()
    assert (field.label, field.choices, field.required) == ("Level", ["gold"], True)

    deleted = client.post(reverse("web:settings-field-delete", args=[field.pk]))
    assert deleted.status_code == 302
    assert not CustomField.objects.filter(pk=field.pk).exists()


# --- pipelines and stages ---------------------------------------------------------------------


def test_pipelines_and_stages_are_added_renamed_reordered_and_deleted() -> None:
    org = make_organization()
    client = _client(_owner(org))
    assert client.post(reverse("web:settings-pipeline-create"), {"pipeline-name": "Sales"}).status_code == 302
    pipeline = Pipeline.objects.get(organization=org, name="Sales")
    first, second, *_rest = list(pipeline.stages.order_by("position"))

    renamed = client.post(
        reverse("web:settings-pipeline-rename", args=[pipeline.pk]), {f"p{pipeline.pk}-name": "Deals"}
    )
    assert renamed.status_code == 302
    added = client.post(
        reverse("web:settings-stage-create", args=[pipeline.pk]),
        {
            f"n{pipeline.pk}-name": "Trial",
            f"n{pipeline.pk}-probability": "40",
            f"n{pipeline.pk}-kind": "open",
        },
    )
    assert added.status_code == 302
    trial = Stage.objects.get(pipeline=pipeline, name="Trial")
    assert trial.probability == 40

    updated = client.post(
        reverse("web:settings-stage-update", args=[first.pk]),
        {f"s{first.pk}-name": "Lead", f"s{first.pk}-probability": "15", f"s{first.pk}-kind": "open"},
    )
    assert updated.status_code == 302
    first.refresh_from_db()
    assert (first.name, first.probability) == ("Lead", 15)

    order = [s.pk for s in pipeline.stages.order_by("position")]
    wanted = [order[1], order[0], *order[2:]]
    reordered = client.post(
        reverse("web:settings-stages-reorder", args=[pipeline.pk]), {"stage_ids": ",".join(map(str, wanted))}
    )
    assert reordered.status_code == 302
    assert [s.pk for s in pipeline.stages.order_by("position")] == wanted
    moved = client.post(reverse("web:settings-stage-position", args=[second.pk]), {"position": "1"})
    assert moved.status_code == 302
    assert list(pipeline.stages.order_by("position").values_list("pk", flat=True))[1] == second.pk

    deleted = client.post(reverse("web:settings-stage-delete", args=[trial.pk]))
    assert deleted.status_code == 302
    assert not Stage.objects.filter(pk=trial.pk).exists()
    pipeline.refresh_from_db()
    assert pipeline.name == "Deals"


def test_a_won_stage_with_a_probability_other_than_100_is_refused_beside_the_field() -> None:
    org = make_organization()
    pipeline = _pipeline(org)
    won = pipeline.stages.get(kind=StageKind.WON)
    before = _state()
    response = _client(_owner(org)).post(
        reverse("web:settings-stage-update", args=[won.pk]),
        {f"s{won.pk}-name": "Closed", f"s{won.pk}-probability": "50", f"s{won.pk}-kind": "won"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "A won stage has a probability of 100." in body
    assert f'id="id_s{won.pk}-probability-error"' in body
    assert 'value="Closed"' in body
    assert _state() == before


def test_a_stage_holding_deals_is_not_deleted_without_a_target() -> None:
    org = make_organization()
    pipeline = _pipeline(org)
    first = pipeline.stages.order_by("position").first()
    crm_services.deal_create(org=org, actor=None, title="Open deal", stage=first)
    response = _client(_owner(org)).post(reverse("web:settings-stage-delete", args=[first.pk]))  # type: ignore[union-attr]
    assert response.status_code == 400
    assert "This stage holds deals" in response.content.decode()
    assert Stage.objects.filter(pk=first.pk).exists()  # type: ignore[union-attr]


def test_a_bad_reorder_is_refused_and_the_order_kept() -> None:
    org = make_organization()
    pipeline = _pipeline(org)
    order = list(pipeline.stages.order_by("position").values_list("pk", flat=True))
    response = _client(_owner(org)).post(
        reverse("web:settings-stages-reorder", args=[pipeline.pk]), {"stage_ids": str(order[0])}
    )
    assert response.status_code == 400
    assert "Expected each of the pipeline&#x27;s stage ids exactly once." in response.content.decode()
    assert list(pipeline.stages.order_by("position").values_list("pk", flat=True)) == order


# --- tags -------------------------------------------------------------------------------------


def test_tags_are_renamed_and_deleted_and_a_taken_name_is_refused() -> None:
    org = make_organization()
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada", tags=["vip", "lead"])
    vip, lead = Tag.objects.get(name="vip"), Tag.objects.get(name="lead")
    client = _client(_owner(org))
    taken = client.post(reverse("web:settings-tag-rename", args=[vip.pk]), {f"t{vip.pk}-name": "LEAD"})
    assert taken.status_code == 409
    assert f'id="id_t{vip.pk}-name-error"' in taken.content.decode()
    assert (
        client.post(
            reverse("web:settings-tag-rename", args=[vip.pk]), {f"t{vip.pk}-name": "Gold"}
        ).status_code
        == 302
    )
    vip.refresh_from_db()
    assert vip.name == "Gold"
    assert client.post(reverse("web:settings-tag-delete", args=[lead.pk])).status_code == 302
    assert list(Contact.objects.get(pk=contact.pk).tags.values_list("name", flat=True)) == ["Gold"]


# --- escaping and query counts ----------------------------------------------------------------


def test_user_text_is_escaped_on_every_settings_page() -> None:
    org = make_organization()
    owner = _owner(org)
    crm_services.pipeline_create(org=org, actor=None, name=XSS[:100])
    Tag.objects.create(organization=org, name=XSS[:60])
    crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="xss", label=XSS[:100], field_type="text"
    )
    token_create(org=org, actor=owner, name=XSS[:100], role=Role.MEMBER)
    owner.full_name = XSS
    owner.save(update_fields=["full_name"])
    client = _client(owner)
    for page in PAGES:
        body = client.get(reverse(f"web:settings-{page}")).content.decode()
        assert "<img src=x" not in body, page
        assert "<script>alert(2)" not in body, page


@pytest.mark.parametrize("page", PAGES)
def test_queries_do_not_grow_with_the_rows(page: str) -> None:
    org = make_organization()
    owner = _owner(org)
    client = _client(owner)

    def add_rows(n: int) -> None:
        for i in range(n):
            make_member(org, Role.VIEWER)
            Tag.objects.create(organization=org, name=f"tag {Tag.objects.count()}")
            token_create(org=org, actor=owner, name=f"t{i}", role=Role.VIEWER)
            crm_services.custom_field_create(
                org=org,
                actor=None,
                entity="deal",
                key=f"k{CustomField.objects.count()}",
                label="K",
                field_type="text",
            )
            crm_services.pipeline_create(org=org, actor=None, name=f"P {Pipeline.objects.count()}")

    add_rows(1)
    client.get(reverse(f"web:settings-{page}"))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(f"web:settings-{page}")).status_code == 200
    add_rows(4)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse(f"web:settings-{page}")).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
