"""Place names as people write them: the spelling key, the one lookup, and the reference data
behind it (districts.yaml's municipalities, communities and places outside Halton)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from schemas.reference import load, reference
from schemas.reference.loader import HERE
from schemas.reference.models import Municipality, OutsidePlace
from schemas.reference.places import accepted_spellings, spelling, towns, written_names

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("written", "key"), [
    ("Acton", "acton"),
    (" burlington ", "burlington"),
    ("Halton Hills", "halton_hills"),
    ("HALTON-HILLS", "halton_hills"),
    ("halton  \t hills", "halton_hills"),
    ("Halton\u2011Hills", "halton_hills"),          # non-breaking hyphen
    ("Halton\u00a0Hills", "halton_hills"),          # no-break space
    ("Géorgetown", "georgetown"),
    ("GEORGETOWN", "georgetown"),
    ("Glen Williams, ON", "glen_williams"),
    ("Glen Williams, Ontario, Canada", "glen_williams"),
    ("Town of Halton Hills", "halton_hills"),
    ("City of Burlington", "burlington"),
    ("Ｍｉｌｔｏｎ", "milton"),                        # full-width letters
    ("Mil\u200bton", "milton"),                     # zero-width space
    ("М\u0456lton", "milton"),                      # Cyrillic lookalikes
    ("St. Mary's", "st_mary_s"),
    ("on", "on"),                                   # a suffix alone is not dropped to nothing
    ("town of", "town_of"),
    ("", ""),
    (" - ", ""),
])
def test_spelling_ignores_case_spaces_hyphens_accents_and_affixes(written: str, key: str) -> None:
    assert spelling(written) == key


@pytest.mark.parametrize(("written", "code", "district"), [
    ("Acton", "acton", "district_1"), ("Georgetown", "georgetown", "district_1"),
    (" burlington ", "burlington", "district_3"), ("Halton Hills", "halton_hills", "district_1"),
    ("Glen Williams", "halton_hills", "district_1"), ("limehouse", "halton_hills", "district_1"),
    ("Terra-Cotta", "halton_hills", "district_1"), ("Norval", "halton_hills", "district_1"),
    ("Milton", "milton", "district_1"), ("Campbellville", "milton", "district_1"),
    ("Oakville", "oakville", "district_2"), ("Bronte", "oakville", "district_2"),
    ("Aldershot", "burlington", "district_3"), ("halton_hills", "halton_hills", "district_1"),
])
def test_halton_names_and_communities_find_their_municipality_and_district(
        written: str, code: str, district: str) -> None:
    ref = reference()
    place = ref.place(written)
    assert isinstance(place, Municipality)
    assert place.code == code
    assert ref.municipality(written) == place
    found = ref.district_for(written)
    assert found is not None
    assert found.code == district


def test_district_1_is_milton_and_halton_hills_and_3_is_burlington() -> None:
    by_district = {d.code: {m.town for m in d.municipalities} for d in reference().districts}
    assert by_district == {"district_1": {"Town of Halton Hills", "Town of Milton"},
                           "district_2": {"Town of Oakville"},
                           "district_3": {"City of Burlington"}}


@pytest.mark.parametrize(("written", "code"), [
    ("Hamilton", "hamilton"), ("HAMILTON", "hamilton"), ("Waterdown", "hamilton"),
    ("Stoney Creek", "hamilton"), ("Mississauga", "mississauga"), ("Toronto", "toronto"),
    ("Guelph", "guelph"), ("City of Brampton", "brampton"), ("caledon, on", "caledon"),
])
def test_known_places_outside_halton_are_recognised_and_have_no_district(written: str,
                                                                        code: str) -> None:
    ref = reference()
    place = ref.place(written)
    assert isinstance(place, OutsidePlace)
    assert place.code == code
    assert ref.municipality(written) is None
    assert ref.district_for(written) is None


@pytest.mark.parametrize("written", ["Springfield", "Halton", "Miltn", "", "   ", "on"])
def test_an_unknown_spelling_finds_nothing(written: str) -> None:
    assert reference().place(written) is None


def test_every_name_alias_and_community_of_the_data_is_found() -> None:
    ref = reference()
    for district in ref.districts:
        for town in district.municipalities:
            for name in (town.code, town.name, *town.aliases, *town.communities):
                assert ref.place(name) == town, name
                assert ref.place(f"  {name.upper()} , ON ") == town, name
    assert len(ref.outside_halton) >= 5
    for outside in ref.outside_halton:
        for name in (outside.code, outside.name, *outside.aliases):
            assert ref.place(name) == outside, name


def test_the_accepted_spellings_listed_to_people() -> None:
    names = written_names(reference().districts)
    assert names == tuple(sorted(names))
    assert {"Acton", "Burlington", "Georgetown", "Glen Williams", "Halton Hills", "Limehouse",
            "Milton", "Oakville", "Terra Cotta"} <= set(names)
    assert not any("Town of" in n or "Hamilton" in n for n in names)
    assert towns(reference().districts) == ("City of Burlington", "Town of Halton Hills",
                                            "Town of Milton", "Town of Oakville")


def test_the_accepted_spellings_fit_a_reason_however_many_communities_are_listed(
        tmp_path: Path) -> None:
    districts = reference().districts
    assert accepted_spellings(districts, 380) == ", ".join(written_names(districts))
    folder = _copy(tmp_path)
    path = folder / "districts.yaml"
    many = ", ".join(f"Hamlet Number {n}" for n in range(60))
    path.write_text(path.read_text("utf-8").replace(
        "communities: [Campbellville, Moffat]", f"communities: [Campbellville, Moffat, {many}]"),
        "utf-8")
    crowded = load(folder).districts
    assert len(", ".join(written_names(crowded))) > 380
    hint = accepted_spellings(crowded, 380)
    assert hint == ("Acton, Burlington, Georgetown, Halton Hills, Milton, Oakville or one of "
                    "their communities (schemas/reference/districts.yaml)")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "reference"
    shutil.copytree(HERE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def test_the_loader_refuses_a_spelling_shared_by_two_places(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "districts.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("aliases: [Port Credit, Streetsville]",
                                 "aliases: [Port Credit, Streetsville, Glen-Williams]"), "utf-8")
    with pytest.raises(ConfigurationError, match="'glen_williams' names both halton_hills and "
                                                 "mississauga"):
        load(folder)


def test_the_loader_refuses_an_outside_place_without_its_region(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "districts.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("{code: guelph, name: Guelph, region: City of Guelph}",
                                 "{code: guelph, name: Guelph}"), "utf-8")
    with pytest.raises(ConfigurationError, match=r"districts\.outside_halton"):
        load(folder)
