"""The manifest: every fault injected where it says, each with its expected outcome."""

from collections import Counter

from demo.sources.manifest import EXPECTED, Manifest, fault_count
from tests.demo.generated import Demo, read


def test_manifest_file_holds_the_returned_manifest(demo: Demo) -> None:
    out, manifest = demo

    assert Manifest.load(out / "manifest.json") == manifest


def test_every_fault_is_injected_at_least_twice_except_the_one_truncated_record(demo: Demo) -> None:
    _, manifest = demo

    counts = Counter(f.fault for f in manifest.faults)

    assert set(counts) == set(EXPECTED)
    assert counts.pop("truncated_file") == 1
    assert min(counts.values()) >= 2


def test_each_fault_carries_its_expected_outcome(demo: Demo) -> None:
    _, manifest = demo

    assert all(f.expected == EXPECTED[f.fault] for f in manifest.faults)


def test_no_record_carries_two_faults(demo: Demo) -> None:
    _, manifest = demo

    places = [(f.source, f.row) for f in manifest.faults]

    assert len(places) == len(set(places))


def test_manifest_counts_the_records_of_each_source(demo: Demo) -> None:
    out, manifest = demo

    counted = {name: len(read(out, manifest, name)) for name in manifest.sources}

    assert counted == {name: output.rows for name, output in manifest.sources.items()}


def test_fault_counts_grow_slowly_with_size() -> None:
    assert [fault_count(n) for n in (100, 5000, 1_000_000)] == [2, 6, 83]
