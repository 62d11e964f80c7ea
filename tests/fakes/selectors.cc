#include "tests/fakes/selectors.h"

#include <algorithm>

#include "common/strings.h"

namespace hami::fakes {
namespace {

// Splits on commas that are not inside parentheses ("a in (x,y),b" -> {"a in (x,y)", "b"}).
Result<std::vector<std::string_view>> SplitTopLevel(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      if (--depth < 0) return InvalidArgument("unbalanced ')' in selector");
    } else if (text[i] == ',' && depth == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return InvalidArgument("unbalanced '(' in selector");
  out.push_back(text.substr(start));
  return out;
}

bool ValidKey(std::string_view key) {
  if (key.empty()) return false;
  return std::none_of(key.begin(), key.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '=' || c == '!' || c == '(' || c == ')' || c == ',';
  });
}

std::optional<std::string> LabelValue(const nlohmann::json& labels, const std::string& key) {
  if (!labels.is_object()) return std::nullopt;
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  HAMI_ASSIGN_OR_RETURN(auto terms, SplitTopLevel(text));
  for (std::string_view raw : terms) {
    std::string_view term = Trim(raw);
    Requirement req;
    if (term.empty()) return InvalidArgument("empty requirement in label selector");
    size_t pos;
    if (term.front() == '!') {
      req.key = std::string(Trim(term.substr(1)));
      req.op = Op::kDoesNotExist;
    } else if ((pos = term.find("!=")) != std::string_view::npos) {
      req.key = std::string(Trim(term.substr(0, pos)));
      req.op = Op::kNotEquals;
      req.values.emplace_back(Trim(term.substr(pos + 2)));
    } else if ((pos = term.find("==")) != std::string_view::npos) {
      req.key = std::string(Trim(term.substr(0, pos)));
      req.op = Op::kEquals;
      req.values.emplace_back(Trim(term.substr(pos + 2)));
    } else if ((pos = term.find('=')) != std::string_view::npos) {
      req.key = std::string(Trim(term.substr(0, pos)));
      req.op = Op::kEquals;
      req.values.emplace_back(Trim(term.substr(pos + 1)));
    } else if ((pos = term.find('(')) != std::string_view::npos) {
      // "key in (a,b)" / "key notin (a,b)"
      if (term.back() != ')') return InvalidArgument("expected ')' at end of set requirement");
      std::string_view head = Trim(term.substr(0, pos));
      size_t space = head.find_last_of(" \t");
      if (space == std::string_view::npos) {
        return InvalidArgument("set requirement needs 'in' or 'notin'");
      }
      std::string_view op = head.substr(space + 1);
      if (op == "in") {
        req.op = Op::kIn;
      } else if (op == "notin") {
        req.op = Op::kNotIn;
      } else {
        return InvalidArgument("unknown set operator " + QuoteForError(op));
      }
      req.key = std::string(Trim(head.substr(0, space)));
      std::string_view inner = term.substr(pos + 1, term.size() - pos - 2);
      for (std::string_view v : Split(inner, ',')) {
        v = Trim(v);
        if (v.empty()) return InvalidArgument("empty value in set requirement");
        req.values.emplace_back(v);
      }
    } else {
      req.key = std::string(term);
      req.op = Op::kExists;
    }
    if (!ValidKey(req.key)) {
      return InvalidArgument("invalid label key in selector term " + QuoteForError(term));
    }
    sel.requirements_.push_back(std::move(req));
  }
  return sel;
}

bool LabelSelector::Matches(const nlohmann::json& labels) const {
  for (const Requirement& req : requirements_) {
    std::optional<std::string> value = LabelValue(labels, req.key);
    bool in_set =
        value && std::find(req.values.begin(), req.values.end(), *value) != req.values.end();
    bool ok = false;
    switch (req.op) {
      case Op::kEquals:
      case Op::kIn:
        ok = in_set;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        ok = !in_set;
        break;
      case Op::kExists:
        ok = value.has_value();
        break;
      case Op::kDoesNotExist:
        ok = !value.has_value();
        break;
    }
    if (!ok) return false;
  }
  return true;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  for (std::string_view raw : Split(text, ',')) {
    std::string_view term = Trim(raw);
    Term t;
    size_t pos;
    size_t op_len;
    if ((pos = term.find("!=")) != std::string_view::npos) {
      t.equals = false;
      op_len = 2;
    } else if ((pos = term.find("==")) != std::string_view::npos) {
      t.equals = true;
      op_len = 2;
    } else if ((pos = term.find('=')) != std::string_view::npos) {
      t.equals = true;
      op_len = 1;
    } else {
      return InvalidArgument("invalid field selector term " + QuoteForError(term) +
                             ": expected field=value or field!=value");
    }
    t.field = std::string(Trim(term.substr(0, pos)));
    t.value = std::string(Trim(term.substr(pos + op_len)));
    if (t.field.empty()) return InvalidArgument("empty field name in field selector");
    sel.terms_.push_back(std::move(t));
  }
  return sel;
}

bool FieldSelector::Matches(
    const std::function<std::optional<std::string>(const std::string&)>& value_of) const {
  for (const Term& t : terms_) {
    std::string value = value_of(t.field).value_or("");
    if ((value == t.value) != t.equals) return false;
  }
  return true;
}

std::vector<std::string> FieldSelector::fields() const {
  std::vector<std::string> out;
  out.reserve(terms_.size());
  for (const Term& t : terms_) out.push_back(t.field);
  return out;
}

}  // namespace hami::fakes
