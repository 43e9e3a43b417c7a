# belfry-tsa: the RFC 3161 HTTP gateway; each stamp goes through consensus (Client::Stamp).
add_executable(belfry-tsa ${CMAKE_CURRENT_LIST_DIR}/belfry_tsa.cc)
belfry_target_defaults(belfry-tsa)
target_link_libraries(belfry-tsa PRIVATE belfry_client belfry_config belfry_pki belfry_transport belfry_tsa)
belfry_program(belfry-tsa)
