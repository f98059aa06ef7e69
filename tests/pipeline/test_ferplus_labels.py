from pathlib import Path

import numpy as np
import pytest

from model_zoo.constants import FERPLUS_CLASS_NAMES
from pipeline.ferplus_labels import (
    EMPTY_IMAGE_NAME,
    NOT_A_FACE,
    UNKNOWN,
    FerPlusError,
    FerPlusVotes,
    MissingFerPlusError,
    check_lines_up,
    ferplus_targets,
    find_ferplus_file,
    locate_ferplus_file,
    read_votes,
    rule_result,
)
from tests.fer_fixtures import FERPLUS_HEADER, ROOT, make_examples, write_ferplus_csv

# The FER+ file of the shared data, where the docs put it (../shared/data beside the project), if it is there.
SHARED_FERPLUS = ROOT.parent / "shared" / "data" / "ferplus" / "fer2013new.csv"


def votes(**counts: float) -> list[float]:
    """Ten vote counts in FER+ column order from ``neutral=4, happiness=3, ...``."""
    columns = FERPLUS_HEADER[2:]
    return [float(counts.get(c, 0)) for c in columns]


def one_face(counts: list[float], name: str = "fer0000000.png") -> FerPlusVotes:
    return FerPlusVotes(Path("fer2013new.csv"), ["Training"], [name], np.array([counts]))


def label_of(counts: list[float], mode: str) -> tuple[str | None, str | None]:
    """(class name or None, reason left out or None) of one face."""
    targets = ferplus_targets(one_face(counts), mode)
    label = int(targets.labels[0])
    return (FERPLUS_CLASS_NAMES[label] if label >= 0 else None), targets.left_out[0]


def test_single_votes_are_dropped_before_counting():
    # 5 of 10 is no majority; with the five single votes dropped it is 5 of 5.
    spread = votes(neutral=5, happiness=1, surprise=1, sadness=1, anger=1, unknown=1)
    assert label_of(spread, "ferplus-majority") == ("Neutral", None)
    assert rule_result(spread, "ferplus-majority")[0] == 1.0
    # The same single votes, as a soft target, vanish too: all the mass on neutral.
    assert label_of(spread, "ferplus-soft") == ("Neutral", None)


def test_majority_needs_more_than_half_of_the_remaining_votes():
    assert label_of(votes(happiness=6, neutral=4), "ferplus-majority") == ("Happy", None)
    assert label_of(votes(happiness=4, neutral=2, sadness=2), "ferplus-majority") == (None, UNKNOWN)  # exactly half
    assert label_of(votes(anger=3, disgust=2), "ferplus-majority") == ("Angry", None)  # 3 of 5
    assert label_of(votes(contempt=7, neutral=3), "ferplus-majority") == ("Contempt", None)
    assert label_of(votes(unknown=6, neutral=4), "ferplus-majority") == (None, UNKNOWN)
    assert label_of(votes(NF=6, neutral=4), "ferplus-majority") == (None, NOT_A_FACE)
    assert label_of(votes(), "ferplus-majority") == (None, UNKNOWN)  # no vote left at all


def test_soft_targets_take_at_most_three_emotions_covering_75_percent():
    def distribution(counts):
        targets = ferplus_targets(one_face(counts), "ferplus-soft")
        return dict(zip(FERPLUS_CLASS_NAMES, targets.distributions[0].round(4).tolist())), targets.left_out[0]

    # 75 % reached after two emotions: the third is not taken.
    dist, reason = distribution(votes(neutral=5, sadness=3, anger=2))
    assert reason is None and dist["Neutral"] == pytest.approx(5 / 8) and dist["Sad"] == pytest.approx(3 / 8)
    assert dist["Angry"] == 0.0
    # Three emotions, tied ones taken together: 4 + 3 + 3 covers everything.
    dist, _ = distribution(votes(neutral=4, happiness=3, surprise=3))
    assert (dist["Neutral"], dist["Happy"], dist["Surprise"]) == pytest.approx((0.4, 0.3, 0.3))
    # Ties take more than three emotions: unknown.
    assert label_of(votes(neutral=4, happiness=2, surprise=2, sadness=2), "ferplus-soft") == (None, UNKNOWN)
    # Three emotions covering exactly half of the votes (the rest in ties below them): unknown.
    many = votes(neutral=5, happiness=4, surprise=3, sadness=2, anger=2, disgust=2, fear=2, contempt=2, unknown=2)
    assert label_of(many, "ferplus-soft") == (None, UNKNOWN)
    # The same face without the unknown votes: 12 of 22 covered, kept.
    assert (
        label_of(
            votes(neutral=5, happiness=4, surprise=3, sadness=2, anger=2, disgust=2, fear=2, contempt=2), "ferplus-soft"
        )[1]
        is None
    )


def test_unknown_and_not_a_face_in_the_soft_walk():
    # Unknown after an emotion ends the walk and is dropped: 5 of 10 covered is too little.
    assert label_of(votes(neutral=5, unknown=3, happiness=2), "ferplus-soft") == (None, UNKNOWN)
    # An emotion tied with unknown is taken first, unknown dropped: 8 of 10 covered, kept.
    dist = ferplus_targets(one_face(votes(neutral=6, happiness=2, unknown=2)), "ferplus-soft").distributions[0]
    assert dist[FERPLUS_CLASS_NAMES.index("Neutral")] == pytest.approx(0.75) and dist.sum() == pytest.approx(1.0)
    # Not a face on top: left out as such, whatever the mode.
    for mode in ("ferplus-majority", "ferplus-soft"):
        assert label_of(votes(NF=8, neutral=2), mode) == (None, NOT_A_FACE)
        assert label_of(votes(unknown=8, neutral=2), mode) == (None, UNKNOWN)


def test_columns_map_to_the_project_classes_with_contempt_last():
    for column, name in [
        ("neutral", "Neutral"),
        ("happiness", "Happy"),
        ("surprise", "Surprise"),
        ("sadness", "Sad"),
        ("anger", "Angry"),
        ("disgust", "Disgust"),
        ("fear", "Fear"),
        ("contempt", "Contempt"),
    ]:
        assert label_of(votes(**{column: 10}), "ferplus-majority") == (name, None)
    assert FERPLUS_CLASS_NAMES.index("Contempt") == 7
    targets = ferplus_targets(one_face(votes(happiness=6, sadness=3)), "ferplus-majority")
    assert targets.distributions[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]  # majority targets are one-hot


def test_empty_image_names_are_left_out_whatever_the_votes():
    face = one_face(votes(happiness=10), name="")
    for mode in ("ferplus-majority", "ferplus-soft"):
        targets = ferplus_targets(face, mode)
        assert targets.left_out == [EMPTY_IMAGE_NAME] and targets.labels.tolist() == [-1]
        assert not targets.distributions.any()
    with pytest.raises(ValueError, match="not 'fer2013'"):
        ferplus_targets(face, "fer2013")


def test_read_votes_and_its_errors(tmp_path):
    examples = make_examples({"train": 12, "validation": 4}, seed=0)
    path = write_ferplus_csv(tmp_path / "fer2013new.csv", examples)
    read = read_votes(path)
    assert len(read.usages) == 16 and read.usages[:12] == ["Training"] * 12 and read.usages[12:] == ["PublicTest"] * 4
    assert read.image_names[0] == "fer0000000.png" and read.image_names[2] == ""  # row 2 is a removed face
    assert read.counts.shape == (16, 10) and (read.counts.sum(axis=1) == 10).all()
    (tmp_path / "bad_header.csv").write_text("Usage,Image name,neutral\nTraining,a.png,10\n")
    with pytest.raises(FerPlusError, match=r"bad_header.csv line 1: header .* lacks the column\(s\) \['happiness'"):
        read_votes(tmp_path / "bad_header.csv")
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",0,", ",x,", 1)
    (tmp_path / "bad_vote.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(FerPlusError, match="bad_vote.csv line 4: a vote count is not a number"):
        read_votes(tmp_path / "bad_vote.csv")


def test_rows_must_line_up_with_the_fer2013_file():
    read = FerPlusVotes(Path("/d/fer2013new.csv"), ["Training", "PublicTest"], ["a", "b"], np.zeros((2, 10)))
    check_lines_up(read, "/d/fer2013.csv", ["Training", "PublicTest"])
    check_lines_up(read, "/d/fer2013.csv", ["training", None])  # a malformed FER2013 row is not compared
    with pytest.raises(FerPlusError, match=r"/d/fer2013new.csv has 2 rows but /d/fer2013.csv has 3.*--ferplus"):
        check_lines_up(read, "/d/fer2013.csv", ["Training", "PublicTest", "PrivateTest"])
    with pytest.raises(FerPlusError, match=r"Data row 2 is 'PrivateTest' in /d/fer2013.csv but 'PublicTest' in"):
        check_lines_up(read, "/d/fer2013.csv", ["Training", "PrivateTest"])


def test_the_ferplus_file_is_found_beside_the_data_or_given(tmp_path):
    fer = tmp_path / "data" / "fer2013" / "fer2013.csv"
    fer.parent.mkdir(parents=True)
    fer.write_text("emotion,pixels,Usage\n")
    assert find_ferplus_file(fer) is None
    with pytest.raises(MissingFerPlusError, match="no fer2013new.csv beside .*fer2013.csv.*--ferplus"):
        locate_ferplus_file(fer)
    sibling = tmp_path / "data" / "ferplus" / "fer2013new.csv"
    sibling.parent.mkdir()
    sibling.write_text("x")
    assert find_ferplus_file(fer) == sibling.resolve()
    beside = fer.parent / "fer2013new.csv"
    beside.write_text("x")
    assert locate_ferplus_file(fer) == beside.resolve()  # the one beside wins
    assert locate_ferplus_file(fer, sibling.parent) == sibling.resolve()  # a directory holding one
    with pytest.raises(MissingFerPlusError, match="No FER\\+ label file at .*elsewhere.csv"):
        locate_ferplus_file(fer, tmp_path / "elsewhere.csv")


@pytest.mark.skipif(not SHARED_FERPLUS.is_file(), reason="the shared FER+ file is not on this machine")
def test_majority_counts_of_the_shared_file_match_its_readme():
    # The README's table: every row of a split, those with an empty image name included (they all
    # hold NF 10, so they count as NF), "unknown" covering faces without a majority.
    read = read_votes(SHARED_FERPLUS)
    named = FerPlusVotes(read.path, read.usages, ["named"] * len(read.usages), read.counts)
    targets = ferplus_targets(named, "ferplus-majority")  # the rule on every row, empty names included
    expected = {
        "Training": dict(Neutral=8740, Happy=7287, Surprise=3149, Sad=3014, Angry=2100, Disgust=119, Fear=532,
                         Contempt=119, unknown=3499, NF=150),
        "PublicTest": dict(Neutral=1182, Happy=865, Surprise=415, Sad=351, Angry=287, Disgust=24, Fear=62,
                           Contempt=13, unknown=380, NF=10),
    }  # fmt: skip
    for usage, want in expected.items():
        rows = [i for i, u in enumerate(read.usages) if u == usage]
        got = dict.fromkeys(want, 0)
        for i in rows:
            reason = targets.left_out[i]
            key = FERPLUS_CLASS_NAMES[targets.labels[i]] if reason is None else {UNKNOWN: "unknown"}.get(reason, "NF")
            got[key] += 1
        assert got == want, usage
        empty = [i for i in rows if not read.image_names[i]]
        assert len(empty) == {"Training": 148, "PublicTest": 10}[usage]
        assert all(targets.left_out[i] == NOT_A_FACE for i in empty)
