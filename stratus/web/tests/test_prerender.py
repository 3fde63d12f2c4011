"""``{% prerendered %}`` (stratus/web/templatetags/prerender.py): fixed parts are rendered once,
whatever reads the request's data on every request, and the shell around a page shows each
signed-in user their own name, organization, token and badge."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.template import Context, Engine, engines
from django.test import Client
from django.utils import formats, timezone, translation

from stratus.accounts.models import Organization, Role, User
from stratus.reminders.models import Notification
from stratus.web.lists.rows import _date_text
from stratus.web.templatetags import prerender
from testsupport.factories import make_member_who_signs_in, make_organization


def _template(text: str) -> object:
    return engines["django"].from_string("{% load i18n prerender %}" + text)


def _render(template: object, **context: object) -> str:
    return template.render(context)  # type: ignore[attr-defined]


def _node(template: object) -> prerender.PrerenderedNode:
    nodes = template.template.nodelist.get_nodes_by_type(prerender.PrerenderedNode)  # type: ignore[attr-defined]
    assert len(nodes) == 1
    return nodes[0]


def test_a_part_that_reads_a_variable_is_rendered_for_every_request() -> None:
    template = _template(
        '{% prerendered %}<p title="{% translate "Profile" %}">{{ name }}</p>{% endprerendered %}'
    )
    assert _render(template, name="Ada") == '<p title="Profile">Ada</p>'
    assert _render(template, name="<b>Bob</b>") == '<p title="Profile">&lt;b&gt;Bob&lt;/b&gt;</p>'
    # The fixed text is kept; the variable's part is not.
    (parts,) = _node(template)._parts.values()
    assert [part for part in parts if isinstance(part, str)] == ['<p title="Profile">', "</p>"]


def test_a_condition_that_swallows_the_error_still_makes_its_part_per_request() -> None:
    # {% if %} turns an error in its condition into False: the part must not be kept as "false".
    template = _template(
        "{% prerendered %}{% if memberships|length > 1 %}switch{% else %}one{% endif %}{% endprerendered %}"
    )
    assert _render(template, memberships=[1]) == "one"
    assert _render(template, memberships=[1, 2]) == "switch"
    assert _render(template, memberships=[1]) == "one"


def test_key_variables_choose_the_kept_text() -> None:
    template = _template(
        '{% prerendered section %}<a{% if section == "deals" %} aria-current="page"{% endif %}>'
        "{% translate 'Deals' %}</a>{% endprerendered %}"
    )
    assert _render(template, section="deals") == '<a aria-current="page">Deals</a>'
    assert _render(template, section="contacts") == "<a>Deals</a>"
    assert _render(template, section="deals") == '<a aria-current="page">Deals</a>'
    with translation.override("de"):
        _render(template, section="deals")
    # One kept text per language and key value (and URL prefix).
    assert {key[0] for key in _node(template)._parts} == {translation.get_language(), "de"}
    assert len(_node(template)._parts) == 3


def test_live_parts_and_assignments_are_rendered_per_request() -> None:
    template = _template(
        "{% prerendered %}[{% live %}{% now 'Y' %}{% endlive %}]"
        "{% translate 'Search' as word %}{{ word }}{% endprerendered %}"
    )
    year = str(timezone.localtime().year)
    assert _render(template) == f"[{year}]Search"
    (parts,) = _node(template)._parts.values()
    assert not any(isinstance(part, str) and year in part for part in parts)


def test_per_request_parts_are_found_with_the_template_debug_on_too() -> None:
    engine = Engine(
        debug=True,
        libraries={"i18n": "django.templatetags.i18n", "prerender": "stratus.web.templatetags.prerender"},
    )
    template = engine.from_string(
        "{% load i18n prerender %}{% prerendered %}{% translate 'Hello' %} {{ name }}"
        "{% if names|length > 1 %}!{% endif %}{% endprerendered %}"
    )
    assert template.render(Context({"name": "Ada", "names": [1]})) == "Hello Ada"
    assert template.render(Context({"name": "Bob", "names": [1, 2]})) == "Hello Bob!"


def test_a_date_is_formatted_as_django_formats_it() -> None:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    moments = [
        datetime.datetime(2026, 1, 2, 0, 0, tzinfo=zone),
        datetime.datetime(2026, 7, 9, 12, 0, tzinfo=zone),
        datetime.datetime(2026, 10, 25, 2, 30, tzinfo=zone),
        datetime.datetime(2026, 12, 6, 17, 5, 9, tzinfo=datetime.UTC),
    ]
    for language in ("en", "de", "fr", "ja"):
        with translation.override(language):
            for moment in moments:
                assert _date_text(moment, "SHORT_DATETIME_FORMAT") == formats.date_format(
                    moment, "SHORT_DATETIME_FORMAT"
                )
                assert _date_text(moment.date(), "SHORT_DATE_FORMAT") == formats.date_format(
                    moment.date(), "SHORT_DATE_FORMAT"
                )


# --- the shell --------------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


def _page(user: User, path: str) -> str:
    client = Client()
    client.force_login(user)
    return client.get(path).content.decode()


@pytest.mark.django_db
def test_the_shell_shows_each_user_their_own_name_organization_badge_and_token() -> None:
    acme, globex = make_organization("Acme Ltd"), make_organization("Globex <Corp>")
    ada = make_member_who_signs_in(acme, Role.MEMBER, PASSWORD)
    ada.full_name = "Ada Lovelace"
    ada.save(update_fields=["full_name"])
    bob = make_member_who_signs_in(globex, Role.VIEWER, PASSWORD)
    bob.full_name = "Bob <b>Builder</b>"
    bob.save(update_fields=["full_name"])
    Notification.objects.create(organization=globex, user=bob, title="Call back")
    Notification.objects.create(organization=globex, user=bob, title="Renewal")
    first = _page(ada, "/contacts")
    second = _page(bob, "/contacts")
    assert "Ada Lovelace" in first
    assert "Acme Ltd" in first
    assert "Ada Lovelace" not in second
    assert "Acme Ltd" not in second
    assert "Bob &lt;b&gt;Builder&lt;/b&gt;" in second
    assert "Globex &lt;Corp&gt;" in second
    assert f'data-organization="{globex.slug}" data-user="{bob.pk}"' in second

    def badge(page: str) -> str:
        found = re.search(r'data-testid="nav-notifications">(.*?)</a>', page, re.S)
        assert found
        return found.group(1)

    assert "2" in badge(second)
    assert "2" not in badge(first)
    tokens = [re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page) for page in (first, second)]
    assert tokens[0]
    assert tokens[1]
    assert not set(tokens[0]) & set(tokens[1])


@pytest.mark.django_db
def test_the_shell_marks_the_current_section_on_each_page() -> None:
    org: Organization = make_organization("Acme")
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    for path, current in (("/contacts", "/contacts"), ("/deals", "/deals"), ("/contacts", "/contacts")):
        nav = re.search(r'<nav class="sidebar".*?</nav>', _page(user, path), re.S)
        assert nav
        assert re.findall(r'<a href="([^"]+)" aria-current="page"', nav.group(0)) == [current]
