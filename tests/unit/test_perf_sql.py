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


def test_a_subquery_column_belongs_to_the_subquery_table_not_the_outer_one():
    query = (
        'SELECT id, email FROM "Patient" WHERE "createdAt" > $1 AND id IN '
        '(SELECT "patientId" FROM "Appointment" WHERE status = $2) LIMIT $3'
    )
    assert set(columns_used_on(query, "Appointment", APPOINTMENT_COLUMNS)) == {"status"}
    assert set(columns_used_on(query, "Patient", PATIENT_COLUMNS)) == {"createdAt", "id"}


def test_a_cte_keeps_its_columns_to_its_own_table():
    query = (
        'WITH recent AS (SELECT id FROM "Patient" WHERE "createdAt" > $1) '
        'SELECT * FROM "Appointment" a JOIN recent r ON r.id = a."patientId" WHERE a.status = $2'
    )
    assert set(columns_used_on(query, "Patient", PATIENT_COLUMNS)) == {"createdAt"}
    assert set(columns_used_on(query, "Appointment", APPOINTMENT_COLUMNS)) == {"patientId", "status"}


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * FROM "Patient" /* WHERE email = $1 */ WHERE id = $2',
        'SELECT * FROM "Patient" -- WHERE email = $1\nWHERE id = $2',
        'SELECT * FROM "Patient" WHERE id = $2 AND "lastName" <> $$ WHERE email = 1 $$',
        'SELECT * FROM "Patient" WHERE id = $2 AND "lastName" <> E\'it\\\'s WHERE email\'',
    ],
)
def test_comments_and_strings_are_not_read_as_sql(query):
    assert "email" not in columns_used_on(query, "Patient", PATIENT_COLUMNS)
    assert "id" in columns_used_on(query, "Patient", PATIENT_COLUMNS)


def test_from_only_is_understood():
    assert set(columns_used_on('SELECT * FROM ONLY "Patient" WHERE email = $1', "Patient", PATIENT_COLUMNS)) == {
        "email"
    }


def test_a_table_of_another_schema_is_another_table():
    query = 'SELECT * FROM other."Patient" WHERE email = $1'
    assert columns_used_on(query, "Patient", PATIENT_COLUMNS, schema="public") == {}
    assert set(columns_used_on(query, "Patient", PATIENT_COLUMNS, schema="other")) == {"email"}


def test_an_insert_target_is_not_filtered_by_the_select_feeding_it():
    query = 'INSERT INTO "Patient" (email) SELECT email FROM "Staging" WHERE "createdAt" > $1'
    assert columns_used_on(query, "Patient", PATIENT_COLUMNS) == {}
