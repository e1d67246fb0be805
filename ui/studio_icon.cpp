#include "studio_icon.h"

#include <QLinearGradient>
#include <QPainter>
#include <QPainterPath>

namespace gg::ui {

QImage studioIconImage(int size) {
  QImage img(size, size, QImage::Format_ARGB32_Premultiplied);
  img.fill(Qt::transparent);
  QPainter p(&img);
  p.setRenderHint(QPainter::Antialiasing);
  p.scale(size / 256.0, size / 256.0);  // the SVG's 256 x 256 user space
  QLinearGradient bg(8, 8, 248, 248);
  bg.setColorAt(0, QColor("#2a2f6e"));
  bg.setColorAt(1, QColor("#6a2bd8"));
  p.setPen(Qt::NoPen);
  p.setBrush(bg);
  p.drawRoundedRect(QRectF(8, 8, 240, 240), 52, 52);
  const char* mosaic[9] = {"#4cc9f0", "#4895ef", "#f72585", "#4361ee", "#ffd166",
                           "#f77f00", "#7209b7", "#f72585", "#06d6a0"};
  for (int i = 0; i < 9; ++i) p.fillRect(QRectF(116 + 28 * (i % 3), 116 + 28 * (i / 3), 26, 26), QColor(mosaic[i]));
  // The G: arc from (186, 76) around the centre (128, 128), r = 76, to the
  // right-hand point (204, 128), then a bar in to (132, 128).
  QPainterPath g;
  g.moveTo(186, 76);
  g.arcTo(QRectF(52, 52, 152, 152), 43.2, 316.8);
  g.lineTo(132, 128);
  QLinearGradient sg(52, 52, 204, 204);
  sg.setColorAt(0, Qt::white);
  sg.setColorAt(1, QColor("#ffd166"));
  p.setBrush(Qt::NoBrush);
  p.setPen(QPen(QBrush(sg), 22, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  p.drawPath(g);
  p.setPen(Qt::NoPen);
  p.setBrush(Qt::white);
  p.drawEllipse(QPointF(186, 76), 13, 13);
  p.setBrush(QColor("#ffd166"));
  p.drawEllipse(QPointF(132, 128), 13, 13);
  return img;
}

QIcon studioIcon() {
  QIcon icon;
  for (int s : {16, 24, 32, 48, 64, 128, 256}) icon.addPixmap(QPixmap::fromImage(studioIconImage(s)));
  return icon;
}

}  // namespace gg::ui
