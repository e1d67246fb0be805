// Tests for gg::BpeTrainer: hand-checked merges, equivalence with a naive
// trainer, the CLIP vocabulary layout, save -> Tokenizer round trips, errors.
#include "bpe_trainer.h"
#include "errors.h"
#include "test_support.h"
#include "tokenizer.h"

#include <QDir>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <fstream>
#include <map>
#include <random>
#include <set>

using Merges = std::vector<std::pair<std::string, std::string>>;

namespace {

// Deterministic synthetic captions: pseudo-words from syllables, Zipf-like
// word choice, some punctuation, digits and non-ASCII. (std::mt19937's output is
// specified by the standard; distributions are not, so only raw draws are used.)
std::vector<std::string> make_corpus(int n_captions, uint32_t seed) {
  static const char* kSyllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qua", "str",
                                     "ing", "ed", "er", "on", "an", "pho", "cat", "dog", "sky", "tree",
                                     "blu", "red", "gre", "\u00e9t\u00e9", "\u65e5", "\u672c", "na", "po", "ly",
                                     "b", "c", "d", "f", "g", "h", "j", "k", "m", "p", "w", "x", "y", "a",
                                     "e", "i", "o", "u"};
  constexpr uint32_t kNumSyllables = sizeof(kSyllables) / sizeof(kSyllables[0]);
  std::mt19937 rng(seed);
  std::vector<std::string> lexicon;
  for (int i = 0; i < 20000; ++i) {
    std::string w;
    const uint32_t n = 1 + rng() % 4;
    for (uint32_t k = 0; k < n; ++k) w += kSyllables[rng() % kNumSyllables];
    lexicon.push_back(w);
  }
  std::vector<std::string> captions;
  for (int c = 0; c < n_captions; ++c) {
    std::string s;
    const uint32_t n_words = 4 + rng() % 10;
    for (uint32_t k = 0; k < n_words; ++k) {
      // Zipf-like: index = lexicon_size * u^3 favours the first words.
      const double u = (rng() % 100000) / 100000.0;
      s += (k ? " " : "") + lexicon[static_cast<size_t>(lexicon.size() * u * u * u)];
      const uint32_t r = rng() % 20;
      if (r == 0) s += ",";
      if (r == 1) s += " " + std::to_string(rng() % 100);
      if (r == 2) s += "'s";
    }
    if (c % 7 == 0) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    captions.push_back(s + (c % 3 ? "." : ""));
  }
  return captions;
}

// A caption corpus as byte-level symbol sequences with counts.
std::map<std::vector<std::string>, int64_t> corpus_words(const std::vector<std::string>& captions) {
  std::map<std::vector<std::string>, int64_t> words;
  const auto& b2u = gg::clip_byte_to_unicode();
  for (const auto& caption : captions) {
    for (const std::string& w : gg::clip_pre_tokenize(gg::clip_normalize(caption))) {
      std::vector<std::string> syms;
      for (unsigned char b : w) syms.push_back(b2u[b]);
      syms.back() += "</w>";
      ++words[syms];
    }
  }
  return words;
}

std::vector<std::string> apply_merge(const std::vector<std::string>& syms, const std::string& a,
                                     const std::string& b) {
  std::vector<std::string> out;
  for (size_t i = 0; i < syms.size();) {
    if (i + 1 < syms.size() && syms[i] == a && syms[i + 1] == b) {
      out.push_back(a + b);
      i += 2;
    } else {
      out.push_back(syms[i++]);
    }
  }
  return out;
}

// The textbook trainer: recount every pair at every step; most frequent pair,
// ties to the smallest (left, right) strings; pairs whose concatenation already
// is a token are skipped.
Merges naive_train(const std::vector<std::string>& captions, int64_t n_merges, int64_t min_frequency) {
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (auto& [w, c] : corpus_words(captions)) words.emplace_back(w, c);
  std::set<std::string> tokens;
  for (const auto& s : gg::clip_byte_symbols()) {
    tokens.insert(s);
    tokens.insert(s + "</w>");
  }
  Merges merges;
  while (static_cast<int64_t>(merges.size()) < n_merges) {
    std::map<std::pair<std::string, std::string>, int64_t> counts;
    for (const auto& [syms, c] : words)
      for (size_t i = 0; i + 1 < syms.size(); ++i) counts[{syms[i], syms[i + 1]}] += c;
    const std::pair<std::string, std::string>* best = nullptr;
    int64_t best_count = 0;
    for (const auto& [p, c] : counts) {  // ascending pair order: first max wins ties
      if (c > best_count && !tokens.count(p.first + p.second)) {
        best = &p;
        best_count = c;
      }
    }
    if (!best || best_count < min_frequency) break;
    const auto [a, b] = *best;
    merges.emplace_back(a, b);
    tokens.insert(a + b);
    for (auto& [syms, c] : words) syms = apply_merge(syms, a, b);
  }
  return merges;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
}

}  // namespace

class TestBpeTrainer : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void configValidation() {
    gg::BpeTrainerConfig config;
    config.vocab_size = 513;
    GG_VERIFY_THROWS_WITH(config.validate(), gg::ConfigError, "vocab_size");
    config.vocab_size = 514;
    config.validate();
    config.min_frequency = 0;
    GG_VERIFY_THROWS_WITH(config.validate(), gg::ConfigError, "min_frequency");
  }

  void handCheckedMerges() {
    // Sennrich et al.'s example. Pair counts: (e,s) 9 and (s,t</w>) 9 tie -> "e" < "s";
    // then (es,t</w>) 9, (l,o) 7; then (e,w), (n,e), (w,est</w>) tie at 6 -> "e" first;
    // then (ew,est</w>) 6 beats (n,ew) 6 ("ew" < "n"); (n,ewest</w>) 6; (lo,w</w>) 5.
    std::vector<std::string> corpus;
    for (int i = 0; i < 5; ++i) corpus.push_back("low");
    for (int i = 0; i < 2; ++i) corpus.push_back("Lower");
    for (int i = 0; i < 6; ++i) corpus.push_back("newest");
    for (int i = 0; i < 3; ++i) corpus.push_back("widest");
    gg::BpeTrainerConfig config;
    config.vocab_size = 514 + 7;
    const gg::BpeVocabulary v = gg::train_bpe(corpus, config);
    const Merges expected = {{"e", "s"},  {"es", "t</w>"},      {"l", "o"},  {"e", "w"},
                             {"ew", "est</w>"}, {"n", "ewest</w>"}, {"lo", "w</w>"}};
    QCOMPARE(v.merges, expected);
    QVERIFY(v.reached_target);
    QCOMPARE(v.size(), int64_t(521));
    QCOMPARE(v.tokens[512], std::string("es"));
    QCOMPARE(v.tokens[518], std::string("low</w>"));
    QCOMPARE(v.tokens[519], std::string("<|startoftext|>"));
    QCOMPARE(v.tokens[520], std::string("<|endoftext|>"));
  }

  void matchesNaiveTrainer_data() {
    QTest::addColumn<int>("captions");
    QTest::addColumn<int>("merges");
    QTest::addColumn<int>("minFrequency");
    QTest::newRow("small") << 40 << 80 << 2;
    QTest::newRow("to exhaustion, min freq 1") << 15 << 100000 << 1;
    QTest::newRow("larger") << 300 << 250 << 2;
  }
  void matchesNaiveTrainer() {
    QFETCH(int, captions);
    QFETCH(int, merges);
    QFETCH(int, minFrequency);
    const auto corpus = make_corpus(captions, 7);
    gg::BpeTrainerConfig config;
    config.vocab_size = 514 + merges;
    config.min_frequency = minFrequency;
    const gg::BpeVocabulary v = gg::train_bpe(corpus, config);
    const Merges reference = naive_train(corpus, merges, minFrequency);
    QCOMPARE(v.merges.size(), reference.size());
    for (size_t i = 0; i < reference.size(); ++i) {
      QVERIFY2(v.merges[i] == reference[i],
               ("merge " + std::to_string(i) + ": got '" + v.merges[i].first + " " + v.merges[i].second +
                "', expected '" + reference[i].first + " " + reference[i].second + "'")
                   .c_str());
    }
    QCOMPARE(v.reached_target, static_cast<int64_t>(reference.size()) == merges);
  }

  void saveLoadRoundTrip() {
    const auto corpus = make_corpus(600, 11);
    gg::BpeTrainerConfig config;
    config.vocab_size = 900;
    const gg::BpeVocabulary v = gg::train_bpe(corpus, config);
    QVERIFY(v.reached_target);
    QCOMPARE(v.size(), int64_t(900));
    // CLIP layout.
    const auto& bytes = gg::clip_byte_symbols();
    for (size_t i = 0; i < 256; ++i) {
      QCOMPARE(v.tokens[i], bytes[i]);
      QCOMPARE(v.tokens[256 + i], bytes[i] + "</w>");
    }
    for (size_t r = 0; r < v.merges.size(); ++r) QCOMPARE(v.tokens[512 + r], v.merges[r].first + v.merges[r].second);
    QCOMPARE(std::set<std::string>(v.tokens.begin(), v.tokens.end()).size(), v.tokens.size());

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string folder = dir.path().toStdString() + "/tok";
    gg::save_bpe_vocabulary(v, folder);
    QCOMPARE(QDir(QString::fromStdString(folder)).entryList(QDir::Files),
             (QStringList{"merges.txt", "vocab.json"}));  // no temporaries left
    {
      std::ifstream in(folder + "/merges.txt");
      std::string first;
      std::getline(in, first);
      QCOMPARE(first, std::string("#version: 0.2"));
    }
    const gg::Tokenizer tok = gg::Tokenizer::from_folder(folder);
    QCOMPARE(tok.vocab_size(), int64_t(900));
    QCOMPARE(tok.num_merges(), int64_t(900 - 514));
    QCOMPARE(tok.bos_id(), int64_t(898));
    QCOMPARE(tok.eos_id(), int64_t(899));
    for (size_t i = 0; i < v.tokens.size(); ++i) QCOMPARE(tok.token_id(v.tokens[i]), static_cast<int64_t>(i));

    // Merges are applied as learned: the rank-order encoder segments every
    // training word as applying the merges one after another does.
    for (const auto& [syms, count] : corpus_words(corpus)) {
      std::vector<std::string> seg = syms;
      for (const auto& [a, b] : v.merges) seg = apply_merge(seg, a, b);
      std::vector<int64_t> expected;
      for (const auto& s : seg) expected.push_back(tok.token_id(s));
      // decode(expected) is the word's text; encoding it must give the learned segmentation.
      const std::vector<int64_t> ids = tok.tokenize(tok.decode(expected));
      QCOMPARE(ids, expected);
    }
    // The most frequent multi-byte word became a single token.
    {
      std::vector<std::string> top;
      int64_t top_count = 0;
      for (const auto& [syms, count] : corpus_words(corpus))
        if (count > top_count && syms.size() > 1) top = syms, top_count = count;
      std::string joined;
      for (const auto& s : top) joined += s;
      QVERIFY(top_count > 10);
      QCOMPARE(tok.tokenize_to_strings(tok.decode({tok.token_id(joined)})), std::vector<std::string>{joined});
    }

    // encode/decode round trips, for training captions and unseen text.
    for (const std::string& text : {corpus[0], corpus[1], corpus[599], std::string("zzz unseen \u00fcber \U0001F600!")}) {
      const std::string spaced = [&] {
        std::string s;
        for (const auto& w : gg::clip_pre_tokenize(gg::clip_normalize(text))) s += (s.empty() ? "" : " ") + w;
        return s;
      }();
      QCOMPARE(tok.decode(tok.encode(text).ids), spaced);
    }

    // Saving again over the same folder replaces the files.
    gg::BpeTrainerConfig small = config;
    small.vocab_size = 600;
    gg::save_bpe_vocabulary(gg::train_bpe(corpus, small), folder);
    QCOMPARE(gg::Tokenizer::from_folder(folder).vocab_size(), int64_t(600));
  }

  void deterministic() {
    auto corpus = make_corpus(300, 3);
    gg::BpeTrainerConfig config;
    config.vocab_size = 700;
    const gg::BpeVocabulary a = gg::train_bpe(corpus, config);
    std::reverse(corpus.begin(), corpus.end());  // order of captions does not matter
    const gg::BpeVocabulary b = gg::train_bpe(corpus, config);
    QCOMPARE(a.merges, b.merges);
    QCOMPARE(a.tokens, b.tokens);
  }

  void fileInputAndErrors() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const auto corpus = make_corpus(200, 5);
    const std::string path = dir.filePath("captions.txt").toStdString();
    write_lines(path, corpus);
    gg::BpeTrainerConfig config;
    config.vocab_size = 650;
    QCOMPARE(gg::train_bpe_file(path, config).merges, gg::train_bpe(corpus, config).merges);

    GG_VERIFY_THROWS_WITH(gg::train_bpe_file(path + ".missing", config), gg::DatasetError, path + ".missing");
    GG_VERIFY_THROWS_WITH(gg::train_bpe({"", "   ", "<|endoftext|>"}, config), gg::DatasetError, "no words");
    config.vocab_size = 10;
    GG_VERIFY_THROWS_WITH(gg::train_bpe(corpus, config), gg::ConfigError, "vocab_size");
  }

  void stopsWhenPairsRunOut() {
    gg::BpeTrainerConfig config;
    config.vocab_size = 5000;
    const gg::BpeVocabulary v = gg::train_bpe({"a cat", "a cat", "the dog"}, config);
    QVERIFY(!v.reached_target);
    // min_frequency 2: only the pairs of "cat" are frequent enough.
    // (a,t</w>) and (c,a) tie at 2; "a" < "c".
    QCOMPARE(v.merges, (Merges{{"a", "t</w>"}, {"c", "at</w>"}}));
    QCOMPARE(v.size(), int64_t(516));
  }

  void tenThousandCaptions() {
    // 10,000 captions must train in seconds; the time is printed, not asserted.
    const auto corpus = make_corpus(10000, 1);
    gg::BpeTrainerConfig config;
    config.vocab_size = 4096;
    QElapsedTimer timer;
    timer.start();
    const gg::BpeVocabulary v = gg::train_bpe(corpus, config);
    qInfo("trained %lld merges on %zu captions in %lld ms", static_cast<long long>(v.merges.size()),
          corpus.size(), static_cast<long long>(timer.elapsed()));
    QVERIFY(v.reached_target);
    QCOMPARE(v.size(), int64_t(4096));
    const gg::Tokenizer tok(v.token_to_id(), v.merges);
    for (int i = 0; i < 50; ++i) {
      const std::string& c = corpus[static_cast<size_t>(i) * 37];
      std::string spaced;
      for (const auto& w : gg::clip_pre_tokenize(gg::clip_normalize(c))) spaced += (spaced.empty() ? "" : " ") + w;
      QCOMPARE(tok.decode(tok.encode(c).ids), spaced);
    }
  }
};

QTEST_GUILESS_MAIN(TestBpeTrainer)
#include "test_bpe_trainer.moc"
