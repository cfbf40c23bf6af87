# SPINDLE_SANITIZE applies to every target of the build (set by the asan-ubsan and tsan presets).
if(SPINDLE_SANITIZE)
  # Full debug information (-g) is kept. Measured and rejected: line tables only
  # (-gline-tables-only -fdebug-info-for-profiling) for the libraries too, to shorten these
  # builds. Whole clean asan-ubsan builds took 149 s with -g and 157 s without, and src/lb's
  # largest unit 20-24 s either way (alternated): the debug information is not what makes
  # them slow.
  add_compile_options(-fsanitize=${SPINDLE_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${SPINDLE_SANITIZE})
  if(SPINDLE_SANITIZE MATCHES "undefined")
    # vptr is off: its slow path probes memory through a pipe, so while a test exhausts file
    # descriptors on purpose (EMFILE) it reports valid objects as "invalid vptr".
    add_compile_options(-fno-sanitize-recover=undefined -fno-sanitize=vptr)
    add_link_options(-fno-sanitize=vptr)
  endif()
  if(SPINDLE_SANITIZE MATCHES "address")
    add_compile_definitions(SPINDLE_ASAN=1)
  endif()
  if(SPINDLE_SANITIZE MATCHES "thread")
    add_compile_definitions(SPINDLE_TSAN=1)
  endif()
endif()
