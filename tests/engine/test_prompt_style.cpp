// Style clauses of prompts (model/engine/prompt_style.h).
#include <QtTest/QtTest>

#include "prompt_style.h"

class TestPromptStyle : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void readsTheStyleWord() {
    QCOMPARE(gg::caption_style("pizza, cheese, noto style"), std::string("noto"));
    QCOMPARE(gg::caption_style("cat face, twemoji style"), std::string("twemoji"));
    QCOMPARE(gg::caption_style("noto style"), std::string("noto"));           // only the clause
    QCOMPARE(gg::caption_style("a cat in noto style"), std::string("noto"));  // after a space
    QCOMPARE(gg::caption_style("pizza"), std::string());
    QCOMPARE(gg::caption_style("lifestyle"), std::string());
    QCOMPARE(gg::caption_style(" style"), std::string());
    QCOMPARE(gg::caption_style("pizza,  style"), std::string());
    QCOMPARE(gg::caption_style("style"), std::string());
    QCOMPARE(gg::caption_style(""), std::string());
  }

  void setsReplacesAndRemovesTheClause() {
    QCOMPARE(gg::with_style("pizza", "noto"), std::string("pizza, noto style"));
    QCOMPARE(gg::with_style("pizza, cheese, noto style", "twemoji"), std::string("pizza, cheese, twemoji style"));
    QCOMPARE(gg::with_style("pizza, noto style", "noto"), std::string("pizza, noto style"));
    QCOMPARE(gg::with_style("pizza, noto style", ""), std::string("pizza"));
    QCOMPARE(gg::with_style("a cat in noto style", ""), std::string("a cat in"));
    QCOMPARE(gg::with_style("noto style", ""), std::string());
    QCOMPARE(gg::with_style("pizza", ""), std::string("pizza"));
    QCOMPARE(gg::with_style("", "noto"), std::string("noto style"));
    QCOMPARE(gg::with_style(" style", "noto"), std::string(" style, noto style"));
    // Setting then reading gives the style back, and setting twice is setting once.
    for (const std::string p : {"pizza", "pizza, cheese, fluent style", "x, y", "noto style"}) {
      const std::string once = gg::with_style(p, "twemoji");
      QCOMPARE(gg::caption_style(once), std::string("twemoji"));
      QCOMPARE(gg::with_style(once, "twemoji"), once);
      QCOMPARE(gg::caption_style(gg::with_style(once, "")), std::string());
    }
  }

  void styleWords() {
    QVERIFY(gg::is_style_word("noto"));
    QVERIFY(gg::is_style_word("noto-v1"));
    QVERIFY(gg::is_style_word("fluent2"));
    QVERIFY(!gg::is_style_word(""));
    QVERIFY(!gg::is_style_word("Noto"));
    QVERIFY(!gg::is_style_word("noto style"));
    QVERIFY(!gg::is_style_word(std::string(33, 'a')));
    QVERIFY(gg::is_style_word(std::string(32, 'a')));
    QCOMPARE(gg::check_style_words({"noto", "twemoji"}), std::string());
    QCOMPARE(gg::check_style_words({}), std::string());
    QVERIFY(gg::check_style_words({"noto", "noto"}).find("listed twice") != std::string::npos);
    QVERIFY(gg::check_style_words(std::vector<std::string>(65, "a")).find("at most 64") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestPromptStyle)
#include "test_prompt_style.moc"
