add_executable(belfry-cluster ${CMAKE_CURRENT_LIST_DIR}/belfry_cluster.cc)
belfry_target_defaults(belfry-cluster)
target_link_libraries(belfry-cluster PRIVATE belfry_config absl::strings)
belfry_program(belfry-cluster)
