// The studio's icon, painted with QPainter (this Qt build has no SVG plugin).
// It is the drawing of resources/icons/gigagan-studio.svg (which the desktop
// entry uses): keep the two in step.
#pragma once
#include <QIcon>
#include <QImage>

namespace gg::ui {

QImage studioIconImage(int size);
QIcon studioIcon();  // 16 ... 256 px

}  // namespace gg::ui
