// Whether a dense operand enters a product as stored or transposed (BLAS's trans argument).
#pragma once

namespace fastgdml {

enum class Op { kNoTrans, kTrans };

}  // namespace fastgdml
