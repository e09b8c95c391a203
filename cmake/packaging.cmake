# The Debian package (issue 20; docs/operations.md, "Install from the package").
# Install rules put the files where the package holds them; tools/package installs a build tree
# into a staging root (DESTDIR=<stage> cmake --install <build> --prefix /usr) and runs cpack over
# that root. cpack never builds or installs on its own (CPACK_INSTALL_CMAKE_PROJECTS is empty):
# packaging a tree that others are building must not start a build in it.
set(callsign_packaging ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS callsignd callsign RUNTIME DESTINATION bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/ DESTINATION share/callsign/web)
# Absolute destinations: the package's /etc and the unit directory, whatever the prefix.
install(FILES ${callsign_packaging}/callsign.toml DESTINATION /etc/callsign)
install(FILES ${callsign_packaging}/callsign.service DESTINATION /lib/systemd/system)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/callsign)  # docs/nginx: the gate example
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${callsign_packaging}/copyright DESTINATION share/doc/callsign)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME callsign)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "support-call authentication and account-takeover signals")
set(CPACK_PACKAGE_DESCRIPTION "callsignd checks codes a customer reads out on the phone, and answers a login\n front-end's questions about each attempt (open proxy, breached credentials, rate limits).")
set(CPACK_PACKAGE_CONTACT "callsign maintainers <callsign@example.invalid>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # callsign_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Library dependencies come from dpkg-shlibdeps over the packaged binaries; adduser is for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${callsign_packaging}/debian/conffiles ${callsign_packaging}/debian/postinst
  ${callsign_packaging}/debian/prerm ${callsign_packaging}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_INSTALL_CMAKE_PROJECTS "")
# tools/package passes its staging root with -D CPACK_INSTALLED_DIRECTORIES=<stage>;/
set(CPACK_INSTALLED_DIRECTORIES "${CMAKE_BINARY_DIR}/package-stage;/")
include(CPack)
