"""Top issues, pure: the words that recur across tickets (subjects and customer comments),
counted once per ticket, with jieba for Chinese word segmentation."""
from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

jieba.setLogLevel(60)  # jieba logs its dictionary load at INFO
_init_lock = threading.Lock()
_ready = False

_STOPWORD_TEXT = """
the a an and or but to of in on for with is are was were be been it this that my your our we you i
me he she they them can cannot could would should will not no yes please thanks thank hi hello dear
re fw fwd from have has had do does did get got when what how why where there here about after
again still just also any some all very more most than then so if as at by into its via
您好 你好 谢谢 感谢 请问 我们 你们 他们 一下 一个 这个 那个 什么 怎么 为什么 没有 不能 可以 已经 还是
但是 因为 所以 如果 然后 现在 今天 问题 帮忙 麻烦 请 的 了 是 在 和 与 或 也 都 就 还 吗 呢 吧 啊
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_LATIN = re.compile(r"^[a-z][a-z0-9\-]{2,}$")
_CJK = re.compile(r"^[\u3400-\u9fff]{2,}$")


def _ensure_loaded() -> None:
    global _ready
    with _init_lock:
        if not _ready:
            jieba.initialize()
            _ready = True


def terms(text: str) -> set[str]:
    """The distinct meaningful words of one text."""
    _ensure_loaded()
    found: set[str] = set()
    for word in jieba.lcut(text.lower()):
        word = word.strip()
        if word in STOPWORDS:
            continue
        if _CJK.match(word) or _LATIN.match(word):
            found.add(word)
    return found


@dataclass(frozen=True)
class Issue:
    term: str
    tickets: int
    samples: list[str]


def top_issues(tickets: Iterable[tuple[str, str]], limit: int = 20, min_tickets: int = 2) -> list[Issue]:
    """tickets: (number, text of subject + customer comments). A term counts once per ticket."""
    counts: Counter[str] = Counter()
    samples: dict[str, list[str]] = defaultdict(list)
    for number, text in tickets:
        for term in terms(text):
            counts[term] += 1
            if len(samples[term]) < 5:
                samples[term].append(number)
    ranked = sorted((t for t, n in counts.items() if n >= min_tickets), key=lambda t: (-counts[t], -len(t), t))
    return [Issue(t, counts[t], samples[t]) for t in ranked[:limit]]
