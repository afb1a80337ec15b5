"""The classifier's self-training on unlabelled messages, on small synthetic data (no model)."""
import numpy as np
import pytest

from worker.classifier import Classifier, ClassifierParams

from .fakes import BagOfWordsEmbedder

EMB = BagOfWordsEmbedder()
TEXTS = ["where is my parcel", "parcel not delivered", "track my parcel", "parcel delivery late",
         "refund my money", "money back please", "refund for my return", "I want a refund of my money"]
LABELS = ["shipping"] * 4 + ["refunds"] * 4
PARAMS = ClassifierParams(calibration_folds=0)


def fitted() -> Classifier:
    return Classifier(PARAMS).fit(TEXTS, EMB.embed(TEXTS), LABELS)


def test_self_training_adds_the_most_confident_pool_messages_per_class():
    pool = ["courier lost my parcel today", "the parcel tracking is stuck", "parcel parcel parcel", "refund my money today",
            "money refund status", "hello there"]
    base = fitted()
    trained = base.self_trained(TEXTS, EMB.embed(TEXTS), LABELS, pool, EMB.embed(pool), per_class=2, weight=0.5)
    assert trained is not base and trained.classes == base.classes
    assert len(trained._rows) == len(TEXTS) + 4  # two per class, however many the pool holds
    proba, _ = trained.predict(["stuck parcel with the courier"], EMB.embed(["stuck parcel with the courier"]))
    assert trained.classes[int(proba.argmax())] == "shipping"


def test_nearest_similarity_compares_with_ops_examples_only():
    pool = ["tracking number for the parcel please"]
    base = fitted()
    trained = base.self_trained(TEXTS, EMB.embed(TEXTS), LABELS, pool, EMB.embed(pool), per_class=5)
    probe = EMB.embed(pool)
    assert np.allclose(trained.nearest(probe), base.nearest(probe))  # the pool message itself is no example
    assert trained.nearest(probe).max() < 0.99


def test_an_empty_pool_changes_nothing_and_mismatched_lists_are_an_error():
    base = fitted()
    assert base.self_trained(TEXTS, EMB.embed(TEXTS), LABELS, [], np.zeros((0, 1))) is base
    with pytest.raises(ValueError, match="same length"):
        base.self_trained(TEXTS, EMB.embed(TEXTS), LABELS, ["a", "b"], EMB.embed(["a"]))


def test_no_word_of_a_pseudo_labelled_message_is_kept():
    pool = ["my password is hunter2secret and my parcel is late", "refund money to jsmith99"]
    trained = fitted().self_trained(TEXTS, EMB.embed(TEXTS), LABELS, pool, EMB.embed(pool), per_class=5)
    words = set(trained._word.vocabulary_) | set(trained._char.vocabulary_)
    assert len(trained._rows) == len(TEXTS) + 2
    assert not any("hunter2" in w or "jsmith" in w for w in words)
    assert "parcel" in trained._word.vocabulary_
