"""The training batches of the contrastive fine-tune (pure: no model is loaded)."""
import random

from worker.finetune import same_category_batches

TEXTS = ["a1", "a2", "a3", "b1", "b2", "c1", "c2", "c3", "c4", "lonely"]
LABELS = ["a", "a", "a", "b", "b", "c", "c", "c", "c", "d"]
CATEGORY = dict(zip(TEXTS, LABELS))


def test_every_example_is_an_anchor_once_with_a_positive_of_its_category():
    batches = same_category_batches(TEXTS, LABELS, batch_size=2, rng=random.Random(0))
    pairs = [pair for batch in batches for pair in batch]
    # "lonely" is the only example of its category: it has no positive, so it is left out
    assert sorted(a for a, _ in pairs) == sorted(t for t in TEXTS if t != "lonely")
    assert all(CATEGORY[a] == CATEGORY[p] and a != p for a, p in pairs)


def test_no_category_appears_twice_in_a_batch():
    batches = same_category_batches(TEXTS, LABELS, batch_size=3, rng=random.Random(1))
    assert all(len(batch) <= 3 for batch in batches)
    for batch in batches:
        categories = [CATEGORY[a] for a, _ in batch]
        assert len(categories) == len(set(categories)), batch


def test_the_same_seed_gives_the_same_batches():
    first = same_category_batches(TEXTS, LABELS, batch_size=3, rng=random.Random(7))
    again = same_category_batches(TEXTS, LABELS, batch_size=3, rng=random.Random(7))
    assert first == again
