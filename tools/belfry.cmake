# belfry: the command-line client (login, checkin, checkout, grant, delete, logout, whoami,
# status, verify, revoke-user, stamp).
add_executable(belfry ${CMAKE_CURRENT_LIST_DIR}/belfry_cli.cc)
belfry_target_defaults(belfry)
target_link_libraries(belfry PRIVATE belfry_client belfry_config belfry_evidence belfry_wire_format absl::time)
belfry_program(belfry)
