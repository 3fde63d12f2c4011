from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from stratus.accounts.models import Organization, User
from stratus.accounts.services import organization_create
from stratus.crm.models import Company, Contact, CustomField
from stratus.imports import services
from stratus.imports.models import ImportJob, ImportState
from stratus.platform.errors import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("owner@example.com", "pw-123456789")


@pytest.fixture
def org(owner: User) -> Organization:
    return organization_create(name="Acme", owner=owner)


def upload(content: str | bytes, name: str = "contacts.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def run(org, owner, content, **options) -> ImportJob:
    job = services.import_create(
        org=org, actor=owner, kind=options.pop("kind", "contacts"), upload=upload(content), **options
    )
    assert services.import_run(job_id=job.pk) == ImportState.DONE
    job.refresh_from_db()
    return job


CONTACTS = (
    "First Name,Last Name,E-mail,Company,Tags,Size\r\n"
    "Ada,Lovelace,ada@example.com,Analytical,vip;math,10\r\n"
    "Bad,Email,not-an-email,,,\r\n"
    "Ada,Again,ADA@example.com,,,\r\n"
    "Grace,Hopper,grace@example.com,Navy,vip,many\r\n"
    ",,,,,\r\n"
    "Alan,Turing,alan@example.com,Analytical,,7\r\n"
)


def test_contacts_import_with_duplicates_bad_emails_and_custom_fields(org, owner) -> None:
    CustomField.objects.create(
        organization=org, entity="contact", key="size", label="Size", field_type="number"
    )
    Contact.objects.create(organization=org, first_name="Existing", email="alan@example.com")
    job = run(org, owner, CONTACTS)

    assert job.mapping == ["first_name", "last_name", "email", "company", "tags", "custom.size"]
    # The blank line is not a row; the second Ada is a duplicate within the file, Alan exists.
    assert (job.rows_total, job.rows_done) == (5, 5)
    assert (job.created, job.updated, job.skipped, job.failed) == (1, 0, 2, 2)
    errors = {e.row_number: e.reason for e in job.row_errors.all()}
    assert errors[3] == "email: Enter a valid email address."
    assert errors[5].startswith("custom.size: 'many' is not a number")
    ada = Contact.objects.get(organization=org, email="ada@example.com")
    assert ada.last_name == "Lovelace"
    assert ada.custom_fields == {"size": 10}
    assert ada.company is not None
    assert ada.company.name == "Analytical"
    assert sorted(t.name for t in ada.tags.all()) == ["math", "vip"]
    assert Contact.objects.get(organization=org, email="alan@example.com").first_name == "Existing"
    assert Company.objects.filter(organization=org, name="Analytical").count() == 1


def test_update_policy_fills_existing_contacts_from_non_empty_cells(org, owner) -> None:
    Contact.objects.create(
        organization=org, first_name="Old", last_name="Name", email="ada@example.com", job_title="CTO"
    )
    job = run(
        org,
        owner,
        "email,first_name,job_title\nada@example.com,Ada,\nnew@example.com,New,CEO\n",
        dedup_policy="update",
    )
    assert (job.created, job.updated, job.skipped, job.failed) == (1, 1, 0, 0)
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.job_title) == ("Ada", "Name", "CTO")


def test_companies_dedup_by_domain_then_name(org, owner) -> None:
    Company.objects.create(organization=org, name="Acme Corp", domain="acme.com")
    job = run(
        org,
        owner,
        "Company Name;Website;Domain;Country\nAcme Inc;https://acme.com;www.ACME.com;us\nGlobex;globex.com;;US\nInitech;;;USA\n",
        kind="companies",
        dedup_policy="update",
    )
    assert job.delimiter == ";"
    assert (job.created, job.updated, job.failed) == (1, 1, 1)
    assert Company.objects.get(domain="acme.com").name == "Acme Inc"
    assert Company.objects.get(name="Globex").website == "https://globex.com"
    assert job.row_errors.get().reason == "country: 'USA' is not a two-letter ISO code"


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (b"", "file", "The file is empty."),
        (b"email,first_name\n", "file", "The file has a header row but no data rows."),
        (
            b"Vorname,Stadt\nJ\xfcrgen,K\xf6ln\n",
            "encoding",
            "The file is not valid utf-8: byte 0xFC on line 2",
        ),
        (b"first_name,city\nAda,London\n", "mapping", "Missing column: email"),
        (b"city,country\nLondon,UK\n", "mapping", "Missing column: contacts need an email or a name column"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_with_a_clear_error(
    org, owner, content, field, message
) -> None:
    with pytest.raises(ApplicationError) as error:
        services.import_create(org=org, actor=owner, kind="contacts", upload=upload(content))
    assert error.value.message.startswith(message)
    assert field in error.value.field_errors
    assert ImportJob.objects.count() == 0


def test_a_stated_encoding_is_used_and_mapping_overrides_apply(org, owner) -> None:
    content = "Vorname,Nachname,Mail\nJürgen,Köln,j@example.com\n".encode("cp1252")
    job = run(
        org,
        owner,
        content,
        encoding="windows-1252",
        mapping={"Vorname": "first_name", "Nachname": "last_name", "Mail": "email"},
    )
    assert job.created == 1
    assert Contact.objects.get(email="j@example.com").first_name == "Jürgen"
    with pytest.raises(ApplicationError) as error:
        services.import_create(
            org=org, actor=owner, kind="contacts", upload=upload("a,b\n1,2\n"), mapping={"a": "shoe_size"}
        )
    assert "mapping.a" in error.value.field_errors


def test_invalid_bytes_later_in_a_file_fail_only_their_row(org, owner) -> None:
    # Past the head read on upload (64 KiB), so only the worker meets the bad byte.
    rows = 4000
    content = (
        b"email,first_name\n"
        + b"".join(f"user{i:05d}@example.com,U{i}\n".encode() for i in range(rows))
        + b"x@example.com,J\xfcrgen\n"
    )
    job = run(org, owner, content)
    assert (job.created, job.failed) == (rows, 1)
    error = job.row_errors.get()
    assert error.row_number == rows + 2
    assert "not valid utf-8" in error.reason
    assert error.values == ["x@example.com", "J\ufffdrgen"]


def test_an_interrupted_import_resumes_after_its_last_committed_chunk(org, owner, settings) -> None:
    settings.IMPORT_CHUNK_SIZE = 2
    content = "email\n" + "".join(f"c{i}@example.com\n" for i in range(7))
    job = services.import_create(org=org, actor=owner, kind="contacts", upload=upload(content))
    # As if a worker had committed two chunks and died: the rows are there, the job is stale.
    first = services.import_run(job_id=job.pk)
    assert first == ImportState.DONE
    Contact.objects.filter(email__in=["c4@example.com", "c5@example.com", "c6@example.com"]).delete()
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportState.RUNNING, rows_done=4, created=4, heartbeat_at=None
    )
    assert services.import_run(job_id=job.pk) == ImportState.DONE
    job.refresh_from_db()
    assert (job.rows_done, job.created) == (7, 7)
    assert Contact.objects.filter(organization=org).count() == 7


def test_an_import_streams_its_file_from_object_storage(org, owner, s3_storage) -> None:
    rows = 3000
    content = "email,first_name\n" + "".join(f"s3user{i}@example.com,S{i}\n" for i in range(rows))
    job = services.import_create(org=org, actor=owner, kind="contacts", upload=upload(content))
    assert default_storage.exists(job.file.name)
    stream = services.open_binary(job.file.name)
    assert not hasattr(stream, "file")  # read from the object's body, not a downloaded copy
    stream.close()
    assert services.import_run(job_id=job.pk) == ImportState.DONE
    job.refresh_from_db()
    assert (job.rows_total, job.created) == (rows, rows)
