add_executable(belfry-setup ${CMAKE_CURRENT_LIST_DIR}/belfry_setup.cc)
belfry_target_defaults(belfry-setup)
target_link_libraries(belfry-setup PRIVATE belfry_config_threshold belfry_pki belfry_reply_signer
                      belfry_wire_format belfry_threshold belfry_evidence)
belfry_program(belfry-setup)
