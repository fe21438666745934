"""drumgen.judges: the style classifier and its features."""
import numpy as np
import pytest

from drumgen import hvo as H
from drumgen import judges as J


def test_style_classifier_learns_separable_data():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 10))
    labels = np.repeat(["a", "b", "c"], [300, 60, 60])  # unbalanced, as GMD styles are
    x = centres[np.searchsorted(["a", "b", "c"], labels)] + rng.normal(0, 1, (len(labels), 10))
    clf = J.StyleClassifier(["a", "b", "c"]).fit(x, labels)
    assert np.mean(clf.predict(x) == labels) > 0.95
    assert set(clf.predict(x, among=["b", "c"])) <= {"b", "c"}
    assert np.mean(clf.predict(x[labels != "a"], among=["b", "c"]) == labels[labels != "a"]) > 0.95


def test_style_features_are_where_and_how_loud_each_voice_plays():
    hvo = H.empty_hvo(2 * H.STEPS_PER_BAR)[None].repeat(2, axis=0)
    kick = H.VOICES.index("kick")
    hvo[0, [0, 16], H.HITS.start + kick] = 1         # the kick on beat 1 of both bars
    hvo[0, [0, 16], H.VELOCITIES.start + kick] = 0.5
    hvo[0, 4, H.HITS.start + kick] = 1               # and on beat 2 of the first only
    hvo[0, 4, H.VELOCITIES.start + kick] = 0.8
    profile = J.position_profile(hvo)
    assert profile.shape == (2, H.N_VOICES, H.STEPS_PER_BAR)
    assert profile[0, kick, 0] == 1.0 and profile[0, kick, 4] == 0.5 and profile.sum() == 1.5
    features = J.style_features(hvo)
    assert features.shape == (2, H.N_VOICES * H.STEPS_PER_BAR + H.N_VOICES + 1) and features.dtype == np.float32
    assert features[0, H.N_VOICES * H.STEPS_PER_BAR + kick] == pytest.approx(0.6)   # mean hit velocity
    assert not features[1].any()                                                  # silence: all zero


def test_train_style_classifier_keeps_styles_with_enough_windows():
    rng = np.random.default_rng(0)
    hvo = H.join_hvo(rng.random((30, 32, 9)) < 0.2, rng.random((30, 32, 9)), np.zeros((30, 32, 9)))
    styles = np.array(["rock"] * 12 + ["funk"] * 12 + ["jazz"] * 6)
    clf = J.train_style_classifier(hvo, styles, min_windows=10)
    assert clf.classes == ["funk", "rock"]
    assert set(clf.predict(J.style_features(hvo))) <= {"funk", "rock"}
