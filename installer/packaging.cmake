# Packaging: `cpack -G DEB` in the build directory makes a Debian package with
# the gigagan command (and the studio when built), the presets and the
# default model under share/gigagan/resources.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/resources/ DESTINATION share/gigagan/resources
        PATTERN "*.md" EXCLUDE)
# The studio's desktop entry and icon (the freedesktop.org hicolor theme).
if(GIGAGAN_BUILD_STUDIO)
  install(FILES ${CMAKE_SOURCE_DIR}/installer/gigagan-studio.desktop DESTINATION share/applications)
  install(FILES ${CMAKE_SOURCE_DIR}/resources/icons/gigagan-studio.svg
          DESTINATION share/icons/hicolor/scalable/apps)
endif()
set(CPACK_PACKAGE_NAME "gigagan-studio")
set(CPACK_PACKAGE_VENDOR "GigaGAN Studio")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Text-to-image GAN latent-editing studio and trainer (GigaGAN)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "GigaGAN Studio developers")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp, libjemalloc2")
set(CPACK_DEBIAN_PACKAGE_SECTION "graphics")
set(CPACK_GENERATOR "DEB")
include(CPack)
