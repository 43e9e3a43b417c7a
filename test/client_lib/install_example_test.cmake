# Installs the client library from BUILD_DIR into WORK_DIR/prefix (component
# belfry_client only), then configures and builds EXAMPLE_DIR against that prefix the way
# an application would: find_package(Belfry) + target_link_libraries(app Belfry::client).
# Finally runs the example's --help, which must succeed.
foreach(var BUILD_DIR EXAMPLE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step name)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ok")
endfunction()

run_step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
  --component belfry_client)
run_step("configure example" ${CMAKE_COMMAND} -S ${EXAMPLE_DIR} -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run_step("build example" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
run_step("run example --help" ${WORK_DIR}/build/belfry-example --help)
