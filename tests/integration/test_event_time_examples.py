"""The event-time examples on the cluster: what they print against oracles computed from their
own generators."""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import cloudpickle

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))

import click_features  # the examples' generators are the oracles' input
import coupon_abuse
import top_n

for example in (click_features, coupon_abuse, top_n):  # as when run as scripts
    cloudpickle.register_pickle_by_value(example)


def printed(capsys, pattern: str) -> list[re.Match[str]]:
    lines = capsys.readouterr().out.splitlines()
    return [m for line in lines if (m := re.search(pattern, line))]


def test_coupon_abuse_alerts_on_users_with_more_than_five_claims_a_minute(cluster, capsys):
    events = 30_000
    coupon_abuse.coupon_abuse(events)
    alerts = printed(capsys, r"ALERT user (\d+): (\d+) coupon claims between (\S+) and")
    claims = collections.Counter()
    for i in range(events):
        user, action, ts = coupon_abuse.user_event(i)
        if action == "claim_coupon":
            claims[(user, coupon_abuse.clock(ts - ts % 60_000))] += 1
    expected = {(u, n, start) for (u, start), n in claims.items() if n > coupon_abuse.MAX_CLAIMS}
    assert {(int(m[1]), int(m[2]), m[3]) for m in alerts} == expected
    assert len(alerts) == len(expected) > 0


def test_top_n_prints_the_best_sellers_per_hundred_orders_and_per_minute(cluster, capsys):
    orders, n = 700, 3
    top_n.top_n(orders, n)
    hundreds = printed(capsys, r"orders\s+(\d+)-\s*(\d+): top 3: (.*)$")
    assert [(int(m[1]), int(m[2])) for m in hundreds] == \
        [(i, i + 99) for i in range(0, orders - 99, 100)]
    for m in hundreds:
        counts = collections.Counter()
        for i in range(int(m[1]), int(m[2]) + 1):
            _, item, quantity, _ = top_n.order(i)
            counts[item] += quantity
        best = sorted(counts.values(), reverse=True)[:n]
        assert [int(q) for q in re.findall(r"x(\d+)", m[3])] == best


def test_click_features_prints_every_session_with_its_length(cluster, capsys):
    users, hours = 4, 2
    click_features.click_features(users, hours)
    sessions = printed(capsys, r"session\s+(\S+) (\d\d:\d\d): (\d+)m(\d\d)s, (\d+) clicks")
    by_user = collections.defaultdict(list)
    for user, _, ts in click_features.generate_clicks(users, hours):
        by_user[user].append(ts)
    expected = set()
    for user, stamps in by_user.items():
        stamps.sort()
        start = previous = stamps[0]
        count = 1
        for ts in stamps[1:] + [None]:
            if ts is not None and ts <= previous + 5 * 60_000:  # touching sessions merge
                previous, count = ts, count + 1
                continue
            minutes, seconds = divmod((previous - start) // 1000, 60)
            expected.add((user, click_features.clock(start), minutes, seconds, count))
            if ts is not None:
                start = previous = ts
                count = 1
    got = {(m[1], m[2], int(m[3]), int(m[4]), int(m[5])) for m in sessions}
    assert got == expected and len(sessions) == len(expected)
