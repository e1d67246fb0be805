// The canvas's zoom and pan: integer zoom when fitting, the point under the
// cursor stays put while zooming, pixel-exact image rectangles.
#include <QtTest/QtTest>

#include "view_transform.h"

using gg::ui::ViewTransform;

class TestViewTransform : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void fitPicksIntegerZoom_data() {
    QTest::addColumn<QSize>("viewport");
    QTest::addColumn<QSize>("image");
    QTest::addColumn<double>("zoom");
    // fit() keeps a 24 px margin: (600 - 48) / 64 = 8.6 -> 8.
    QTest::newRow("64 in 800x600") << QSize(800, 600) << QSize(64, 64) << 8.0;
    QTest::newRow("256 in 800x600") << QSize(800, 600) << QSize(256, 256) << 2.0;
    QTest::newRow("margin kept") << QSize(512, 512) << QSize(64, 64) << 7.0;
    QTest::newRow("larger than view") << QSize(300, 300) << QSize(1024, 1024) << 0.125;
    QTest::newRow("grid 4x1") << QSize(800, 600) << QSize(256, 64) << 2.0;
  }
  void fitPicksIntegerZoom() {
    QFETCH(QSize, viewport);
    QFETCH(QSize, image);
    QFETCH(double, zoom);
    ViewTransform v;
    v.setViewport(viewport);
    v.setImageSize(image);
    v.fit();
    QCOMPARE(v.zoom(), zoom);
    const QRectF r = v.imageRect();
    // Centred and on whole pixels: every image pixel is an exact square.
    QCOMPARE(r.x(), std::round(r.x()));
    QCOMPARE(r.y(), std::round(r.y()));
    QVERIFY(std::abs(r.center().x() - viewport.width() / 2.0) <= 1.0);
    QVERIFY(r.width() <= viewport.width() && r.height() <= viewport.height());
  }

  void zoomKeepsAnchor() {
    ViewTransform v;
    v.setViewport(QSize(800, 600));
    v.setImageSize(QSize(64, 64));
    v.fit();
    v.setZoom(9.0);
    const QPointF anchor(300, 250);
    const QPointF before = v.widgetToImage(anchor);
    v.stepZoom(anchor, 2);
    QCOMPARE(v.zoom(), 11.0);
    const QPointF after = v.widgetToImage(anchor);
    QVERIFY2(std::abs(before.x() - after.x()) < 0.1 && std::abs(before.y() - after.y()) < 0.1,
             "the image point under the cursor moved");
    v.stepZoom(anchor, -12);
    QCOMPARE(v.zoom(), 0.25);  // 11 -> 1 is ten steps, then 1/2, 1/4
    v.stepZoom(anchor, 1);
    QCOMPARE(v.zoom(), 0.5);
    v.stepZoom(anchor, 1);
    QCOMPARE(v.zoom(), 1.0);
  }

  void bottomInsetKeepsRoomBelow() {
    ViewTransform v;
    v.setViewport(QSize(800, 600));
    v.setImageSize(QSize(64, 64));
    v.setBottomInset(44);
    v.fit();
    QCOMPARE(v.zoom(), 7.0);  // (600 - 48 - 44) / 64 = 7.9
    QVERIFY(v.imageRect().bottom() <= 600 - 44 - 24 + 1);
  }

  void zoomIsClamped() {
    ViewTransform v;
    v.setViewport(QSize(100, 100));
    v.setImageSize(QSize(16, 16));
    v.setZoom(1000);
    QCOMPARE(v.zoom(), ViewTransform::kMaxZoom);
    v.setZoom(0.0001);
    QCOMPARE(v.zoom(), ViewTransform::kMinZoom);
  }

  void panCannotLoseTheImage() {
    ViewTransform v;
    v.setViewport(QSize(400, 300));
    v.setImageSize(QSize(64, 64));
    v.fit();
    v.panBy(QPointF(-10000, -10000));
    const QRectF r = v.imageRect();
    QVERIFY(r.right() > 0 && r.bottom() > 0);
    v.panBy(QPointF(20000, 20000));
    QVERIFY(v.imageRect().left() < 400 && v.imageRect().top() < 300);
  }

  void mappingRoundTrips() {
    ViewTransform v;
    v.setViewport(QSize(640, 480));
    v.setImageSize(QSize(64, 64));
    v.fit();
    v.panBy(QPointF(13, -7));
    const QPointF p(17.5, 40.25);
    const QPointF back = v.widgetToImage(v.imageToWidget(p));
    QVERIFY(std::abs(back.x() - p.x()) < 1e-9 && std::abs(back.y() - p.y()) < 1e-9);
  }
};

QTEST_GUILESS_MAIN(TestViewTransform)
#include "test_view_transform.moc"
