"""The shipped reference data are copies of the project's shared lists, kept equal."""

from __future__ import annotations

from importlib import resources

import pytest

from surveyapp.reference import local_authorities, regions
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA


@pytest.mark.parametrize(("shipped", "shared"), [
    ("data/local_authorities.csv", "local_authorities.csv"),
    ("data/demo_nominees.csv", "nominees_example.csv"),
])
def test_shipped_copies_match_the_shared_lists(shipped, shared):
    assert (SHARED / shared).is_file(), "the shared/ folder sits beside the project in CI and development"
    assert resources.files("surveyapp").joinpath(shipped).read_bytes() == (SHARED / shared).read_bytes()


def test_the_22_authorities_with_welsh_names_and_regions():
    las = local_authorities()
    assert len(las) == 22
    assert las["ANG"].name("cy") == "Ynys Môn" and las["ANG"].name("en") == "Isle of Anglesey"
    assert las["CRF"].region("cy") == "Caerdydd a'r Fro"
    assert sum(la.rural for la in las.values()) == 9
    assert len(regions()) == 6
