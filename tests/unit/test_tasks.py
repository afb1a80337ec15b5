from integrations.base import TransientHelpdeskError
from worker.tasks import retry_countdown_s


def test_retry_after_from_the_helpdesk_wins_but_is_capped():
    assert retry_countdown_s(TransientHelpdeskError("429", retry_after_s=7), retries=0, cap_s=600) == 7
    assert retry_countdown_s(TransientHelpdeskError("429", retry_after_s=3600), retries=0, cap_s=600) == 600


def test_backoff_grows_with_jitter_and_stays_under_the_cap():
    first = [retry_countdown_s(TransientHelpdeskError("500"), retries=0, cap_s=600) for _ in range(50)]
    later = [retry_countdown_s(TransientHelpdeskError("500"), retries=4, cap_s=600) for _ in range(50)]
    assert all(2.5 <= c <= 5 for c in first) and all(40 <= c <= 80 for c in later)
    assert len(set(first)) > 1  # jitter spreads retries of many tickets
    assert all(c <= 60 for c in (retry_countdown_s(TransientHelpdeskError("500"), retries=20, cap_s=60) for _ in range(20)))
