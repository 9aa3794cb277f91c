// The encoder is header-only; this unit keeps the library non-empty and
// checks that the header stands alone.
#include "format/proto_encoder.h"
