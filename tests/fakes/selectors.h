// Kubernetes label and field selectors as the API server parses them from the `labelSelector`
// and `fieldSelector` query parameters, for the fake API server.
//
// All types are values: parse once, then Matches() is const and thread-safe.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hami::fakes {

// A parsed label selector: a conjunction of requirements. Supported syntax (as in
// k8s.io/apimachinery/pkg/labels): `k=v`, `k==v`, `k!=v`, `k` (exists), `!k` (does not exist),
// `k in (a,b)`, `k notin (a,b)`, joined by commas. `!=` and `notin` also match objects that
// lack the label, as on the real server.
class LabelSelector {
 public:
  // Parses `text`; the empty string selects everything. Fails with kInvalidArgument on a
  // malformed requirement (empty key, unbalanced parentheses, unknown operator).
  static Result<LabelSelector> Parse(std::string_view text);

  // `labels` is an object of string values (metadata.labels) or null/absent (no labels).
  bool Matches(const nlohmann::json& labels) const;

  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

// A parsed field selector: `field=value`, `field==value`, `field!=value`, joined by commas.
class FieldSelector {
 public:
  // Parses `text`; the empty string selects everything. Fails with kInvalidArgument on a term
  // without an operator or with an empty field name. Which fields exist is the caller's
  // business (see fields()).
  static Result<FieldSelector> Parse(std::string_view text);

  // `value_of(field)` returns the object's value for a field (nullopt counts as "").
  bool Matches(const std::function<std::optional<std::string>(const std::string&)>& value_of) const;

  // The field names used, so the caller can reject unsupported ones up front.
  std::vector<std::string> fields() const;

 private:
  struct Term {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace hami::fakes
