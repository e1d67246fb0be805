#!/usr/bin/env python3
"""Reference for the known answers in tests/model/test_tokenizer.cpp.

openai/CLIP's SimpleTokenizer (clip/simple_tokenizer.py, MIT), transcribed
without ftfy and without the third-party `regex` module: \\p{L} and \\p{N} are
expanded into explicit character classes from unicodedata, so the CLIP pattern
runs on Python's own `re` engine (independently of the C++ scanner).

  python3 reference_clip_tokenizer.py clip/ "a photo of a cat" "café" ...
prints one line per prompt: the prompt (repr) and its BPE ids with bos/eos.
"""
import html
import json
import re
import sys
import unicodedata


def char_class(prefix):
    parts, start = [], None
    for cp in range(0x110000 + 1):
        ok = cp < 0x110000 and unicodedata.category(chr(cp)).startswith(prefix)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(cp - 1)) if cp - 1 > start else ""))
            start = None
    return "".join(parts)


L, N = char_class("L"), char_class("N")
PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[" + L + "]+|[" + N +
                 r"]|[^\s" + L + N + "]+")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class SimpleTokenizer:
    def __init__(self, folder):
        self.encoder = json.load(open(folder + "/vocab.json", encoding="utf-8"))
        lines = open(folder + "/merges.txt", encoding="utf-8").read().split("\n")
        merges = [tuple(m.split()) for m in lines[1:] if m]
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = set(zip(word, word[1:]))
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = set(zip(word, word[1:]))
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()  # ftfy.fix_text omitted
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for token in PAT.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return [self.encoder["<|startoftext|>"]] + ids + [self.encoder["<|endoftext|>"]]


if __name__ == "__main__":
    tok = SimpleTokenizer(sys.argv[1])
    for prompt in sys.argv[2:]:
        print(repr(prompt), tok.encode(prompt))
