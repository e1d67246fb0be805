// The allocator controls of model/runtime.h: how many freed pages the process
// keeps, and the timer that hands them back.
#include <QtTest/QtTest>

#include <optional>
#include <vector>

#include "runtime.h"
#include "test_support.h"

class TestRuntime : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void releasesWhenMoreThanTheBoundIsKept() {
    std::optional<int64_t> kept = 100;
    int asked = 0, released = 0;
    gg::MemoryReleaseTimer timer(/*seconds=*/3600, /*max_kept_bytes=*/1000, [&] { ++asked; return kept; },
                                 [&] { ++released; return true; });
    QVERIFY(!timer.poll());  // under the bound, period not over
    QCOMPARE(asked, 1);
    kept = 1000;
    QVERIFY(!timer.poll());  // at the bound is still within it
    kept = 1001;
    QVERIFY(timer.poll());
    QCOMPARE(released, 1);
    kept = std::nullopt;  // an allocator that cannot say: only the period counts
    QVERIFY(!timer.poll());
    QCOMPARE(released, 1);
  }

  void releasesEveryPeriodWithoutABound() {
    int asked = 0, released = 0;
    gg::MemoryReleaseTimer never(3600, 0, [&] { ++asked; return std::optional<int64_t>(int64_t{1} << 40); },
                                 [&] { ++released; return true; });
    QVERIFY(!never.poll());
    QCOMPARE(asked, 0);  // no bound: the allocator is not even asked
    gg::MemoryReleaseTimer always(0, 0, [&] { ++asked; return std::optional<int64_t>(0); },
                                  [&] { ++released; return true; });
    QVERIFY(always.poll());
    QVERIFY(always.poll());
    QCOMPARE(released, 2);
  }

  void keptFreeBytesCountsJemallocsPages() {
#if GIGAGAN_TEST_JEMALLOC
    QCOMPARE(QString::fromStdString(gg::allocator_name()), QString("jemalloc"));
    QVERIFY(gg::release_free_memory());
    const std::optional<int64_t> before = gg::kept_free_bytes();
    QVERIFY(before.has_value());
    constexpr int64_t kMiB = int64_t{1} << 20;
    {
      std::vector<torch::Tensor> blocks;
      for (int i = 0; i < 64; ++i) blocks.push_back(torch::ones({kMiB}));  // 64 x 4 MiB, pages touched
    }
    // The executables' setting (app/jemalloc_conf.cpp, linked here too) keeps
    // the freed pages for reuse...
    const int64_t kept = gg::kept_free_bytes().value();
    QVERIFY2(kept - *before >= 192 * kMiB, qPrintable(QString("kept %1 MiB after freeing 256 MiB, %2 before")
                                                          .arg(kept / kMiB).arg(*before / kMiB)));
    // ...until the timer sees more than its bound and hands them back.
    gg::MemoryReleaseTimer timer(3600, 128 * kMiB);
    QVERIFY(timer.poll());
    const int64_t after = gg::kept_free_bytes().value();
    QVERIFY2(after < 64 * kMiB, qPrintable(QString("still %1 MiB kept after the release").arg(after / kMiB)));
    QVERIFY(!timer.poll());
#else
    // Without jemalloc (the sanitizer builds) there is no count to read.
    QVERIFY(!gg::kept_free_bytes().has_value());
    QSKIP("not linked with jemalloc");
#endif
  }
};

QTEST_GUILESS_MAIN(TestRuntime)
#include "test_runtime.moc"
