# leger_set_warnings(target): the project's warning set, errors when LEGER_WERROR is on.
function(leger_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(LEGER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
