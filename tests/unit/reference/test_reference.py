"""Reference data as a user of the platform meets it: units over time, ranks, ethnic groups."""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.reference import (
    RANKS_FILE_ENV,
    ReferenceData,
    ReferenceDataError,
    UnitKind,
    UnitNotValidError,
    UnknownReferenceError,
    reference_data,
)

IN_PHASE_ONE = dt.date(2024, 9, 1)
AFTER_REFORM = dt.date(2026, 1, 1)
NINE_MOUNTAINOUS_DISTRICTS = [
    "NAM_GIANG",
    "DONG_GIANG",
    "TAY_GIANG",
    "PHUOC_SON",
    "BAC_TRA_MY",
    "NAM_TRA_MY",
    "HIEP_DUC",
    "TIEN_PHUOC",
    "NONG_SON",
]


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return ReferenceData.load()


@pytest.fixture
def fresh_catalog() -> Iterator[None]:
    """Let a test load the process-wide catalog anew, and leave no trace for the others."""
    reference_data.cache_clear()
    yield
    reference_data.cache_clear()


# ----- units -------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", NINE_MOUNTAINOUS_DISTRICTS)
def test_the_nine_districts_are_mountainous_in_september_2024(
    ref: ReferenceData, code: str
) -> None:
    assert ref.is_mountainous(code, IN_PHASE_ONE)


@pytest.mark.parametrize("code", NINE_MOUNTAINOUS_DISTRICTS)
def test_the_nine_districts_are_unknown_in_2026(ref: ReferenceData, code: str) -> None:
    assert ref.unit(code, AFTER_REFORM) is None
    assert not ref.is_mountainous(code, AFTER_REFORM)


def test_quang_nam_had_eighteen_district_level_units_of_which_nine_mountainous(
    ref: ReferenceData,
) -> None:
    districts = ref.units(valid_on=IN_PHASE_ONE, kind=UnitKind.DISTRICT)
    assert len(districts) == 18
    assert sorted(d.code for d in districts if d.mountainous) == sorted(NINE_MOUNTAINOUS_DISTRICTS)
    assert all(d.parent == "QUANG_NAM" for d in districts)


def test_a_2024_district_keeps_its_name_and_shows_its_successors(ref: ReferenceData) -> None:
    district = ref.unit("NAM_TRA_MY", IN_PHASE_ONE)

    assert district is not None
    assert ref.unit_ref("NAM_TRA_MY", IN_PHASE_ONE) == {
        "code": "NAM_TRA_MY",
        "name": "Huyện Nam Trà My",
    }
    assert "XA_NAM_TRA_MY" in district.successors
    successors = ref.successors("NAM_TRA_MY")
    assert all(s.kind == UnitKind.COMMUNE and s.mountainous for s in successors)
    assert all(s.valid_on(AFTER_REFORM) for s in successors)


@pytest.mark.parametrize("code", NINE_MOUNTAINOUS_DISTRICTS)
def test_each_former_district_has_at_least_two_mountainous_communes_in_2026(
    ref: ReferenceData, code: str
) -> None:
    communes = ref.successors(code, on=AFTER_REFORM)

    assert len(communes) >= 2
    assert all(ref.is_mountainous(c.code, AFTER_REFORM) for c in communes)


@pytest.mark.parametrize("code", NINE_MOUNTAINOUS_DISTRICTS)
def test_a_former_district_and_its_communes_fall_under_the_same_area_in_reports(
    ref: ReferenceData, code: str
) -> None:
    area = ref.rollup(code)

    assert area != code
    assert {ref.rollup(c.code) for c in ref.successors(code, on=AFTER_REFORM)} == {area}


def test_nong_son_merged_into_que_son_in_2025_which_then_counts_as_mountainous(
    ref: ReferenceData,
) -> None:
    early_2025 = dt.date(2025, 3, 1)

    assert ref.unit("NONG_SON", early_2025) is None
    assert [u.code for u in ref.successors("NONG_SON", on=early_2025)] == ["QUE_SON"]
    assert ref.is_mountainous("QUE_SON", early_2025)
    assert not ref.is_mountainous("QUE_SON", IN_PHASE_ONE)


def test_a_unit_name_cannot_be_taken_on_a_date_the_unit_did_not_exist(ref: ReferenceData) -> None:
    with pytest.raises(UnitNotValidError):
        ref.unit_ref("NAM_TRA_MY", AFTER_REFORM)
    with pytest.raises(UnitNotValidError):
        ref.unit_ref("DN_SO_NOI_VU", IN_PHASE_ONE)


def test_an_unknown_unit_code_is_an_error_not_a_silent_no(ref: ReferenceData) -> None:
    assert ref.unit("NAM_TRA_MI") is None
    with pytest.raises(UnknownReferenceError):
        ref.is_mountainous("NAM_TRA_MI", IN_PHASE_ONE)
    with pytest.raises(UnknownReferenceError):
        ref.unit_ref("NAM_TRA_MI", IN_PHASE_ONE)


def test_home_affairs_and_the_provincial_committee_can_be_agencies_in_2024(
    ref: ReferenceData,
) -> None:
    home_affairs = ref.unit("SO_NOI_VU", IN_PHASE_ONE)
    committee = ref.unit("UBND_TINH", IN_PHASE_ONE)

    assert home_affairs is not None
    assert home_affairs.kind == UnitKind.DEPARTMENT
    assert committee is not None
    assert committee.kind == UnitKind.LEADERSHIP


def test_every_pre_reform_department_rolls_up_to_a_department_valid_in_2026(
    ref: ReferenceData,
) -> None:
    departments = ref.units(valid_on=IN_PHASE_ONE, kind=UnitKind.DEPARTMENT)

    assert len(departments) == 19
    for department in departments:
        target = ref.unit(ref.rollup(department.code), AFTER_REFORM)
        assert target is not None, department.code
        assert target.kind == UnitKind.DEPARTMENT
        assert target.code.startswith("DN_")


def test_planning_and_investment_rolls_up_to_the_da_nang_department_of_finance(
    ref: ReferenceData,
) -> None:
    assert ref.rollup("SO_KE_HOACH_DAU_TU") == "DN_SO_TAI_CHINH"
    assert ref.rollup("SO_TAI_NGUYEN_MOI_TRUONG") == "DN_SO_NONG_NGHIEP_MOI_TRUONG"
    assert ref.unit_ref("DN_SO_NONG_NGHIEP_MOI_TRUONG", AFTER_REFORM)["name"] == (
        "Sở Nông nghiệp và Môi trường"
    )


def test_quang_nam_is_succeeded_by_da_nang_city(ref: ReferenceData) -> None:
    assert [u.code for u in ref.successors("QUANG_NAM", on=AFTER_REFORM)] == ["DA_NANG"]
    assert ref.unit("QUANG_NAM", AFTER_REFORM) is None


def test_reporting_areas_are_never_offered_as_communes_or_districts(ref: ReferenceData) -> None:
    areas = [u for u in ref.units() if u.reporting_only]

    assert len(areas) == 9
    assert all(a.kind == UnitKind.OTHER for a in areas)


# ----- ranks -------------------------------------------------------------------------------------


def test_a_head_of_division_ranks_at_least_a_deputy_head(ref: ReferenceData) -> None:
    assert ref.rank_at_least("TRUONG_PHONG", "PHO_TRUONG_PHONG")
    assert ref.rank_at_least("PHO_TRUONG_PHONG", "PHO_TRUONG_PHONG")
    assert not ref.rank_at_least("PHO_TRUONG_PHONG", "TRUONG_PHONG")


def test_a_deputy_head_of_division_is_the_lowest_eligible_rank(ref: ReferenceData) -> None:
    assert ref.lowest_eligible_rank().code == "PHO_TRUONG_PHONG"


def test_an_officer_without_a_post_is_below_the_lowest_eligible_rank(ref: ReferenceData) -> None:
    officer = ref.rank("CHUYEN_VIEN")

    assert officer is not None
    assert not officer.eligible
    assert not ref.rank_at_least("CHUYEN_VIEN", ref.lowest_eligible_rank().code)


def test_district_ranks_give_way_to_commune_ranks_after_the_reform(ref: ReferenceData) -> None:
    in_2024 = [r.code for r in ref.ranks(valid_on=IN_PHASE_ONE)]
    in_2026 = [r.code for r in ref.ranks(valid_on=AFTER_REFORM)]

    assert in_2024 == [
        "CHUYEN_VIEN",
        "PHO_TRUONG_PHONG",
        "TRUONG_PHONG",
        "PHO_CHU_TICH_UBND_HUYEN",
        "CHU_TICH_UBND_HUYEN",
    ]
    assert in_2026 == [
        "CHUYEN_VIEN",
        "PHO_TRUONG_PHONG",
        "TRUONG_PHONG",
        "PHO_CHU_TICH_UBND_XA",
        "CHU_TICH_UBND_XA",
    ]
    assert ref.rank_at_least("CHU_TICH_UBND_XA", "PHO_CHU_TICH_UBND_XA")


def test_an_unknown_rank_is_an_error(ref: ReferenceData) -> None:
    with pytest.raises(UnknownReferenceError):
        ref.rank_at_least("PHO_PHONG", "PHO_TRUONG_PHONG")


def test_a_local_rank_table_replaces_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_catalog: None
) -> None:
    local = tmp_path / "ranks.json"
    local.write_text(
        json.dumps(
            {
                "version": "local-1",
                "items": [
                    {"code": "PHO_TRUONG_PHONG", "name": "Phó Trưởng phòng", "name_en": "Deputy",
                     "order": 10, "eligible": False},
                    {"code": "TRUONG_PHONG", "name": "Trưởng phòng", "name_en": "Head",
                     "order": 20, "eligible": True},
                    {"code": "GIAM_DOC_TRUNG_TAM", "name": "Giám đốc Trung tâm",
                     "name_en": "Director of a centre", "order": 20, "eligible": True},
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )  # fmt: skip
    monkeypatch.setenv(RANKS_FILE_ENV, str(local))

    ref = reference_data()

    assert ref.ranks_source == str(local)
    assert ref.lowest_eligible_rank().code in {"GIAM_DOC_TRUNG_TAM", "TRUONG_PHONG"}
    assert ref.rank_at_least("GIAM_DOC_TRUNG_TAM", "TRUONG_PHONG")
    assert ref.rank("CHUYEN_VIEN") is None


def test_a_local_rank_table_that_makes_eligibility_jump_is_refused(tmp_path: Path) -> None:
    local = tmp_path / "ranks.json"
    items = [
        {"code": "A", "name": "A", "name_en": "A", "order": 1, "eligible": True},
        {"code": "B", "name": "B", "name_en": "B", "order": 2, "eligible": False},
    ]
    local.write_text(json.dumps({"items": items}), encoding="utf-8")

    with pytest.raises(ReferenceDataError, match="not eligible"):
        ReferenceData.load(ranks_file=local)


def test_the_process_wide_catalog_is_loaded_once(fresh_catalog: None) -> None:
    assert reference_data() is reference_data()
    assert reference_data().ranks_source == "package"


# ----- ethnic groups -----------------------------------------------------------------------------


def test_there_are_exactly_54_ethnic_groups_numbered_1_to_54(ref: ReferenceData) -> None:
    groups = ref.ethnicities()

    assert len(groups) == 54
    assert [g.gso_number for g in groups] == list(range(1, 55))
    assert len({g.code for g in groups}) == 54


def test_only_the_kinh_are_not_a_minority(ref: ReferenceData) -> None:
    assert [g.code for g in ref.ethnicities() if not ref.is_minority(g.code)] == ["KINH"]


@pytest.mark.parametrize(
    ("code", "number", "name"),
    [("KINH", 1, "Kinh"), ("NGAI", 11, "Ngái"), ("CO_TU", 26, "Cơ-tu"), ("RO_MAM", 54, "Rơ-măm")],
)
def test_groups_carry_the_statistics_office_number_and_name(
    ref: ReferenceData, code: str, number: int, name: str
) -> None:
    group = ref.ethnicity(code)

    assert group is not None
    assert (group.gso_number, group.name) == (number, name)


def test_local_subgroups_of_the_quang_nam_highlands_are_known(ref: ReferenceData) -> None:
    ca_dong = ref.subgroup("XO_DANG", "CA_DONG")

    assert ca_dong is not None
    assert ca_dong.name == "Ca Dong"
    for code in ("VE", "TRIENG", "BH_NOONG"):
        assert ref.subgroup("GIE_TRIENG", code) is not None
    assert ref.subgroup("XO_DANG", "VE") is None
    assert ref.subgroup("NOBODY", "CA_DONG") is None


def test_asking_whether_an_unknown_group_is_a_minority_is_an_error(ref: ReferenceData) -> None:
    assert ref.ethnicity("KATU") is None
    with pytest.raises(UnknownReferenceError):
        ref.is_minority("KATU")


# ----- sectors and validation ----------------------------------------------------------------


@pytest.mark.parametrize("on", [IN_PHASE_ONE, AFTER_REFORM])
def test_the_sectors_a_need_names_exist_in_both_phases(ref: ReferenceData, on: dt.date) -> None:
    codes = {s.code for s in ref.sectors(valid_on=on)}

    assert {"AGRICULTURE", "EDUCATION", "HEALTH", "ETHNIC_AFFAIRS", "TRANSPORT"} <= codes
    assert ref.sector("HEALTH", on) is not None


def test_a_catalog_with_a_dangling_successor_is_refused(ref: ReferenceData) -> None:
    district = ref.unit("NAM_GIANG")
    assert district is not None
    broken = district.model_copy(update={"successors": ("XA_NOWHERE",)})
    others = [u for u in ref.units() if u.code != "NAM_GIANG"]

    with pytest.raises(ReferenceDataError, match="XA_NOWHERE"):
        ReferenceData(
            units=[*others, broken],
            ranks=ref.ranks(),
            sectors=ref.sectors(),
            ethnicities=ref.ethnicities(),
        )


def test_a_catalog_with_a_duplicated_ethnic_group_is_refused(ref: ReferenceData) -> None:
    groups = ref.ethnicities()

    with pytest.raises(ReferenceDataError, match="duplicate ethnicity code KINH"):
        ReferenceData(
            units=ref.units(),
            ranks=ref.ranks(),
            sectors=ref.sectors(),
            ethnicities=[*groups[:-1], groups[0]],
        )


def test_the_catalog_says_which_data_version_it_holds(ref: ReferenceData) -> None:
    assert ref.version == "2026.1"
