# threshold-bench: prints coin and TDH2 operations per second for N=4 and N=16
# (`make threshold-bench`; results are recorded in threshold/README.md).
add_executable(threshold-bench ${CMAKE_CURRENT_SOURCE_DIR}/threshold_bench.cc)
belfry_target_defaults(threshold-bench)
target_link_libraries(threshold-bench PRIVATE belfry_threshold)
