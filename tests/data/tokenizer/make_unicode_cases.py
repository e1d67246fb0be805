#!/usr/bin/env python3
"""Writes unicode_cases.json: random prompts mixing many scripts, cases,
marks, emoji, whitespace kinds, contractions, entities and special tokens,
with the ids (without bos/eos) that reference_clip_tokenizer.py gives for them
on the real CLIP vocabulary.  python3 make_unicode_cases.py > unicode_cases.json
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_clip_tokenizer as ref  # noqa: E402

R = lambda a, b: [chr(c) for c in range(a, b)]  # noqa: E731
POOLS = [
    R(0x20, 0x7F), list("abcdefghijklmnopqrstuvwxyz ABCXYZ  '"),
    ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "&amp;", "&lt;", "&#123;", "&#x263a;",
     "&amp;amp;", "<|endoftext|>", "<|startoftext|>"],
    R(0xA0, 0x250), R(0x370, 0x400) + ["\u03a3"] * 10, R(0x400, 0x530), R(0x900, 0x980),
    R(0x300, 0x370), R(0x4E00, 0x4E80), R(0x1F300, 0x1F680),
    ["\u3000", "\u00a0", "\u2028", "\x1c", "\t", "\n", "\u200b", "\u2009", "\u0085", "\x0b"],
    R(0x10400, 0x10450), R(0x1E00, 0x2000), R(0x2150, 0x2190) + R(0x2460, 0x24FF), R(0x600, 0x700),
    R(0xAC00, 0xAC40) + ["\u01c5", "\u01c8", "\u01cb", "\u01f2", "\u0130", "\u1e9e", "\u00df", "\ufb01",
                         "\u212a", "\u2126"],
]


def main():
    random.seed(1)
    tok = ref.SimpleTokenizer(os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip"))
    cases = []
    for _ in range(400):
        n = random.randint(0, 40)
        s = "".join(random.choice(random.choice(POOLS)) for _ in range(n))
        cases.append({"prompt": s, "ids": tok.encode(s)[1:-1]})
    json.dump(cases, sys.stdout, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
