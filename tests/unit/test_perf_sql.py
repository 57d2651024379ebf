import pytest
from ansible.module_utils.perf_sql import columns_used_on, referenced_tables

PATIENT_COLUMNS = {"id", "firstName", "lastName", "email", "createdAt", "updatedAt"}
APPOINTMENT_COLUMNS = {"id", "patientId", "scheduledFor", "status", "createdAt"}


def test_finds_the_filtered_and_sorted_column_of_the_runbook_query():
    query = (
        'SELECT id, "firstName", "lastName", "createdAt" FROM "Patient" '
        'WHERE "createdAt" > $1 ORDER BY "createdAt" DESC LIMIT $2'
    )
    assert columns_used_on(query, "Patient", PATIENT_COLUMNS) == {
        "createdAt": {"filter": True, "sort": True, "descending": True}
    }


def test_selected_columns_are_not_index_candidates():
    query = 'SELECT "firstName", "lastName" FROM "Patient" WHERE id = $1'
    assert set(columns_used_on(query, "Patient", PATIENT_COLUMNS)) == {"id"}


def test_attributes_join_columns_through_aliases_to_their_own_table():
    query = (
        'SELECT a.id FROM "Appointment" a JOIN "Patient" p ON p.id = a."patientId" '
        "WHERE lower(p.email) = $1 AND a.status = $2"
    )
    assert set(columns_used_on(query, "Appointment", APPOINTMENT_COLUMNS)) == {"patientId", "status"}
    assert set(columns_used_on(query, "Patient", PATIENT_COLUMNS)) == {"id", "email"}


def test_a_statement_on_another_table_says_nothing_about_this_one():
    query = 'SELECT * FROM "Appointment" WHERE "createdAt" > $1'
    assert columns_used_on(query, "Patient", PATIENT_COLUMNS) == {}


def test_bare_identifiers_fold_to_lower_case_as_postgresql_does():
    query = "SELECT * FROM Patient WHERE Email = $1"
    assert columns_used_on(query, "patient", {"email"}) == {
        "email": {"filter": True, "sort": False, "descending": False}
    }


def test_string_literals_do_not_look_like_columns():
    query = """SELECT * FROM "Patient" WHERE "lastName" = 'createdAt'"""
    assert set(columns_used_on(query, "Patient", PATIENT_COLUMNS)) == {"lastName"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('SELECT 1 FROM public."Patient" p', {"Patient": "Patient", "p": "Patient"}),
        (
            'SELECT 1 FROM "Patient" AS p, "Appointment" a',
            {"Patient": "Patient", "p": "Patient", "Appointment": "Appointment", "a": "Appointment"},
        ),
        ('UPDATE "Patient" SET "updatedAt" = now() WHERE id = $1', {"Patient": "Patient"}),
    ],
)
def test_reads_tables_and_aliases(query, expected):
    assert referenced_tables(query) == expected
