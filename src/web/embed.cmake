# cmake -DJS=app.js -DCSS=app.css -DOUT=web_assets.cc -P embed.cmake
# Writes the bundle as byte arrays behind web::AppJs() and web::AppCss().
function(emit var file)
  file(READ ${file} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR size "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," body "${hex}")
  set(${var} "static const char ${var}[] = {${body}0};\nstatic const unsigned long ${var}Size = ${size};\n" PARENT_SCOPE)
endfunction()
emit(kJs ${JS})
emit(kCss ${CSS})
file(WRITE ${OUT}.tmp "// Generated from web/ by src/web/embed.cmake; do not edit.\n#include \"web/page.h\"\n\nnamespace heapscope::web {\nnamespace {\n${kJs}${kCss}}  // namespace\n\nstd::string_view AppJs() { return {kJs, kJsSize}; }\nstd::string_view AppCss() { return {kCss, kCssSize}; }\n\n}  // namespace heapscope::web\n")
file(RENAME ${OUT}.tmp ${OUT})
