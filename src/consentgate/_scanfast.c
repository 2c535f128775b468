/* The boring-bytes skip of consentgate.scanner in C.
 *
 * boring_end(data, pos, kind) returns exactly what
 * (_RX_ALL, _RX_BODY, _RX_PLAIN, _RX_SELECT)[kind].match(data, pos).end() returns in
 * scanner.py. Those
 * regexes are a possessive loop: each round takes a run of bytes other than "<", or a "<" and
 * the first alternative that matches after it; the loop stops at the first "<" that none
 * matches. Every quantifier inside is possessive or has a single way to succeed, so each
 * alternative below is a straight scan that either matches (its end) or does not (-1).
 * Names are compared in ASCII case only, as the regexes' [aA] classes do.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef unsigned char uchar;

enum { KIND_ALL = 0, KIND_BODY = 1, KIND_PLAIN = 2, KIND_SELECT = 3 };

/* Byte classes. */
#define C_WS 0x01       /* [\t\n\f\r ] */
#define C_WS_SLASH 0x02 /* [\t\n\f\r /] */
#define C_TAG_STOP 0x04 /* [\t\n\f\r />]: ends a tag name (and the _DELIM lookahead) */
#define C_NAME_STOP 0x08 /* [\t\n\f\r />=]: ends an attribute name */
#define C_VALUE_STOP 0x10 /* [\t\n\f\r >]: ends an unquoted value */
#define C_UNRESERVED 0x20 /* [A-Za-z0-9_.~-] */
#define C_UNRESERVED_PCT 0x40 /* [A-Za-z0-9_.~%-] */
#define C_ALPHA 0x80 /* [a-zA-Z] */

#define IS_WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\f' || (c) == '\r')
#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_UNRESERVED(c) \
    (IS_ALPHA(c) || ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '.' || (c) == '~' || \
     (c) == '-')
#define CLASS(c)                                                                    \
    ((IS_WS(c) ? C_WS | C_WS_SLASH | C_TAG_STOP | C_NAME_STOP | C_VALUE_STOP : 0) | \
     ((c) == '/' ? C_WS_SLASH | C_TAG_STOP | C_NAME_STOP : 0) |                     \
     ((c) == '>' ? C_TAG_STOP | C_NAME_STOP | C_VALUE_STOP : 0) |                   \
     ((c) == '=' ? C_NAME_STOP : 0) |                                               \
     (IS_UNRESERVED(c) ? C_UNRESERVED | C_UNRESERVED_PCT : 0) |                     \
     ((c) == '%' ? C_UNRESERVED_PCT : 0) | (IS_ALPHA(c) ? C_ALPHA : 0))
#define ROW4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define ROW16(c) ROW4(c), ROW4((c) + 4), ROW4((c) + 8), ROW4((c) + 12)
#define ROW64(c) ROW16(c), ROW16((c) + 16), ROW16((c) + 32), ROW16((c) + 48)

static const uchar CLS[256] = {ROW64(0), ROW64(64), ROW64(128), ROW64(192)};

#define LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (c) + 32 : (c))

typedef struct {
    const uchar *s;
    Py_ssize_t n;
} Buf;

typedef struct {
    const char *name;
    Py_ssize_t len;
} Name;

#define NAME(text) {text, sizeof(text) - 1}

/* _SPECIAL: start tags that switch the tokenizer's state, enter foreign content or open a
 * select. */
static const Name SPECIAL[] = {
    NAME("script"),   NAME("style"),    NAME("svg"),     NAME("title"),
    NAME("textarea"), NAME("xmp"),      NAME("iframe"),  NAME("noembed"),
    NAME("noframes"), NAME("noscript"), NAME("plaintext"), NAME("math"),
    NAME("select"),   {NULL, 0}};
/* _SPECIAL_IN_SELECT: the same, and what closes or nests a select. */
static const Name SPECIAL_IN_SELECT[] = {
    NAME("script"),   NAME("style"),    NAME("svg"),     NAME("title"),
    NAME("textarea"), NAME("xmp"),      NAME("iframe"),  NAME("noembed"),
    NAME("noframes"), NAME("noscript"), NAME("plaintext"), NAME("math"),
    NAME("select"),   NAME("input"),    NAME("template"), {NULL, 0}};
/* _FETCH: URL attributes a browser may fetch (outside a and area). */
static const Name FETCH[] = {
    NAME("src"),  NAME("srcset"),     NAME("srcdoc"),      NAME("href"),
    NAME("poster"), NAME("ping"),     NAME("data"),        NAME("background"),
    NAME("imagesrcset"), NAME("xlink:href"), {NULL, 0}};
/* What an inline script's start tag must not carry (_INLINE_SCRIPT): FETCH and type. */
static const Name FETCH_TYPE[] = {
    NAME("src"),  NAME("srcset"),     NAME("srcdoc"),      NAME("href"),
    NAME("poster"), NAME("ping"),     NAME("data"),        NAME("background"),
    NAME("imagesrcset"), NAME("xlink:href"), NAME("type"), {NULL, 0}};
/* What a and area must not carry. */
static const Name PING[] = {NAME("ping"), {NULL, 0}};
static const Name A_AREA[] = {NAME("a"), NAME("area"), {NULL, 0}};
static const Name BODY[] = {NAME("body"), {NULL, 0}};
/* Elements skipped whole when their start tag is boring (_PLAIN_RAW, _EXTERNAL_SCRIPT). */
static const Name PLAIN_RAW[] = {NAME("title"), NAME("style"), NAME("textarea"), {NULL, 0}};
static const Name SCRIPT[] = {NAME("script"), {NULL, 0}};
/* End tags of interest with a select open: body, select, template and what it renames. */
static const Name END_IN_SELECT[] = {
    NAME("body"),     NAME("select"),   NAME("template"), NAME("style"),
    NAME("title"),    NAME("xmp"),      NAME("iframe"),   NAME("noembed"),
    NAME("noframes"), NAME("noscript"), NAME("plaintext"), NAME("svg"),
    NAME("math"),     {NULL, 0}};

/* Whether s[0:len] is one of names (which are lower case), in any ASCII case. */
static int
is_one_of(const uchar *s, Py_ssize_t len, const Name *names)
{
    for (; names->name != NULL; names++) {
        if (names->len != len)
            continue;
        Py_ssize_t i = 0;
        while (i < len && LOWER(s[i]) == (uchar)names->name[i])
            i++;
        if (i == len)
            return 1;
    }
    return 0;
}

/* The first letters of a list of tag names, one bit each (a tag name starts with a letter): most
 * tag names are ruled out by their first letter alone. Set once, when the module loads. */
static uint32_t special_letters, special_in_select_letters, end_in_select_letters;

static uint32_t
letters_of(const Name *names)
{
    uint32_t letters = 0;
    for (; names->name != NULL; names++)
        letters |= (uint32_t)1 << (names->name[0] - 'a');
    return letters;
}

/* is_one_of for the tag name s[0:len] (its first byte a letter), with letters_of(names). */
static inline int
tag_is_one_of(const uchar *s, Py_ssize_t len, const Name *names, uint32_t letters)
{
    if (!((letters >> (LOWER(s[0]) - 'a')) & 1))
        return 0;
    return is_one_of(s, len, names);
}

static inline Py_ssize_t
skip_class(Buf b, Py_ssize_t i, uchar mask)
{
    while (i < b.n && (CLS[b.s[i]] & mask))
        i++;
    return i;
}

static inline Py_ssize_t
until_class(Buf b, Py_ssize_t i, uchar mask)
{
    while (i < b.n && !(CLS[b.s[i]] & mask))
        i++;
    return i;
}

/* Index of the first byte c at or after i, or -1. */
static inline Py_ssize_t
find_byte(Buf b, Py_ssize_t i, uchar c)
{
    if (i >= b.n)
        return -1;
    const uchar *p = memchr(b.s + i, c, (size_t)(b.n - i));
    return p == NULL ? -1 : p - b.s;
}

/* [^>]*+> from i. */
static Py_ssize_t
up_to_gt(Buf b, Py_ssize_t i)
{
    Py_ssize_t k = find_byte(b, i, '>');
    return k < 0 ? -1 : k + 1;
}

/* _VALUE at v (after "=" and white space). */
static Py_ssize_t
value_end(Buf b, Py_ssize_t v)
{
    if (v >= b.n)
        return -1;
    uchar c = b.s[v];
    if (c == '"' || c == '\'') {
        Py_ssize_t k = find_byte(b, v + 1, c);
        return k < 0 ? -1 : k + 1;
    }
    if (c == '>')
        return v; /* (?=>): an empty value */
    return until_class(b, v + 1, C_VALUE_STOP);
}

/* An attribute at r (after [\t\n\f\r /]*+): _ATTR_NAME, then _WS*+ and "=" _WS*+ _VALUE or
 * no "=". With forbidden, its (?!forbidden[\t\n\f\r />=]) lookahead first. */
static Py_ssize_t
plain_attr_end(Buf b, Py_ssize_t r, const Name *forbidden)
{
    if (r >= b.n || (CLS[b.s[r]] & C_TAG_STOP))
        return -1;
    Py_ssize_t e = until_class(b, r + 1, C_NAME_STOP);
    if (forbidden != NULL && e < b.n && is_one_of(b.s + r, e - r, forbidden))
        return -1;
    Py_ssize_t w = skip_class(b, e, C_WS);
    if (w < b.n && b.s[w] == '=')
        return value_end(b, skip_class(b, w + 1, C_WS));
    return w;
}

/* The body of a quoted _RELATIVE_VALUE: s[start:close] with the closing quote at close. */
static Py_ssize_t
relative_quoted_end(Buf b, Py_ssize_t start, Py_ssize_t close)
{
    if (start == close)
        return close + 1;
    uchar c = b.s[start];
    if (CLS[c] & C_UNRESERVED) {
        Py_ssize_t u = skip_class(b, start, C_UNRESERVED);
        uchar d = b.s[u]; /* u <= close: the quote is not unreserved */
        return (u == close || d == '/' || d == '?' || d == '#') ? close + 1 : -1;
    }
    if (c == '/')
        return (CLS[b.s[start + 1]] & C_UNRESERVED_PCT) ? close + 1 : -1;
    return (c == '?' || c == '#') ? close + 1 : -1;
}

/* _RELATIVE_VALUE at v: a value with no scheme and no authority. */
static Py_ssize_t
relative_value_end(Buf b, Py_ssize_t v)
{
    if (v >= b.n)
        return -1;
    uchar c = b.s[v];
    Py_ssize_t rest;
    if (c == '"' || c == '\'') {
        Py_ssize_t close = find_byte(b, v + 1, c);
        return close < 0 ? -1 : relative_quoted_end(b, v + 1, close);
    }
    if (CLS[c] & C_UNRESERVED) {
        Py_ssize_t u = skip_class(b, v, C_UNRESERVED);
        if (u >= b.n)
            return -1;
        uchar d = b.s[u];
        if (CLS[d] & C_VALUE_STOP)
            return u;
        if (d != '/' && d != '?' && d != '#')
            return -1;
        rest = u + 1;
    }
    else if (c == '/') {
        if (v + 1 >= b.n || !(CLS[b.s[v + 1]] & C_UNRESERVED_PCT))
            return -1;
        rest = v + 2;
    }
    else if (c == '?' || c == '#') {
        rest = v + 1;
    }
    else {
        return -1;
    }
    /* Then [^\t\n\f\r >]*+ and the lookahead (?=[\t\n\f\r >]). */
    Py_ssize_t e = until_class(b, rest, C_VALUE_STOP);
    return e < b.n ? e : -1;
}

/* _RELATIVE_NAME _WS*+ = _WS*+ _RELATIVE_VALUE at r. */
static Py_ssize_t
relative_attr_end(Buf b, Py_ssize_t r)
{
    static const Name SRC = NAME("src"), HREF = NAME("href"), POSTER = NAME("poster"),
                      BACKGROUND = NAME("background"), DATA = NAME("data");
    const Name *name;
    if (r >= b.n)
        return -1;
    switch (LOWER(b.s[r])) {
    case 's': name = &SRC; break;
    case 'h': name = &HREF; break;
    case 'p': name = &POSTER; break;
    case 'b': name = &BACKGROUND; break;
    case 'd': name = &DATA; break;
    default: return -1;
    }
    Py_ssize_t len = name->len;
    if (b.n - r < len)
        return -1;
    for (Py_ssize_t i = 1; i < len; i++) {
        if (LOWER(b.s[r + i]) != (uchar)name->name[i])
            return -1;
    }
    Py_ssize_t w = skip_class(b, r + len, C_WS);
    if (w >= b.n || b.s[w] != '=')
        return -1;
    return relative_value_end(b, skip_class(b, w + 1, C_WS));
}

/* (?:attribute)*+ then _TAG_END from x. forbidden NULL: any attribute (_ATTR); else
 * _boring_attr(forbidden), which also takes a relative URL attribute. */
static Py_ssize_t
attributes_then_end(Buf b, Py_ssize_t x, const Name *forbidden)
{
    for (;;) {
        Py_ssize_t r = skip_class(b, x, C_WS_SLASH);
        Py_ssize_t e = plain_attr_end(b, r, forbidden);
        if (e < 0 && forbidden != NULL)
            e = relative_attr_end(b, r);
        if (e < 0) {
            /* _TAG_END: [\t\n\f\r /]*+> from x, which skips to r again. */
            return (r < b.n && b.s[r] == '>') ? r + 1 : -1;
        }
        x = e;
    }
}

/* The start tag of _EXTERNAL_SCRIPT from k (after the name): boring attributes, at least
 * one of them a relative src, then _TAG_END. */
static Py_ssize_t
script_start_end(Buf b, Py_ssize_t k)
{
    int src = 0;
    for (Py_ssize_t x = k;;) {
        Py_ssize_t r = skip_class(b, x, C_WS_SLASH);
        Py_ssize_t e = plain_attr_end(b, r, FETCH);
        if (e < 0) {
            e = relative_attr_end(b, r);
            if (e >= 0 && LOWER(b.s[r]) == 's')
                src = 1;
        }
        if (e < 0)
            return (src && r < b.n && b.s[r] == '>') ? r + 1 : -1;
        x = e;
    }
}

/* An element's text from s up to its end tag "</name" (name[0:len], any ASCII case) and a
 * delimiter, then that end tag: where the end tag ends, the text's end in *text_end; -1 when
 * no complete end tag follows or, with script, the text holds "<!--" before it. */
static Py_ssize_t
text_then_end_tag(Buf b, Py_ssize_t s, const uchar *name, Py_ssize_t len, int script,
                  Py_ssize_t *text_end)
{
    for (Py_ssize_t j = find_byte(b, s, '<'); j >= 0; j = find_byte(b, j + 1, '<')) {
        if (script && b.n - j >= 4 && memcmp(b.s + j + 1, "!--", 3) == 0)
            return -1;
        Py_ssize_t x = j + 2 + len; /* where the delimiter of "</name" would be */
        if (x >= b.n)
            return -1;
        if (b.s[j + 1] != '/' || !(CLS[b.s[x]] & C_TAG_STOP))
            continue;
        Py_ssize_t i = 0;
        while (i < len && LOWER(b.s[j + 2 + i]) == LOWER(name[i]))
            i++;
        if (i == len) {
            *text_end = j;
            return attributes_then_end(b, x, NULL);
        }
    }
    return -1;
}

/* _whole_element at q, the letter after "<", the name ending at k: one of _PLAIN_RAW, or
 * _EXTERNAL_SCRIPT when script (whose text must not hold "<!--"). */
static Py_ssize_t
whole_element_end(Buf b, Py_ssize_t q, Py_ssize_t k, int script)
{
    Py_ssize_t s;
    if (script)
        s = script_start_end(b, k);
    else
        s = b.s[k] == '>' ? k + 1 : attributes_then_end(b, k, FETCH);
    Py_ssize_t text_end;
    return s < 0 ? -1 : text_then_end_tag(b, s, b.s + q, k - q, script, &text_end);
}

/* _NO_ATTRIBUTES | _BORING_START | _PLAIN_RAW | _EXTERNAL_SCRIPT at q, the letter after "<"
 * (with a select open, _NO_ATTRIBUTES | _BORING_START with _SPECIAL_IN_SELECT). */
static Py_ssize_t
start_tag_end(Buf b, Py_ssize_t q, int kind)
{
    Py_ssize_t k = until_class(b, q + 1, C_TAG_STOP);
    if (k >= b.n)
        return -1; /* no ">" can follow */
    if (kind == KIND_SELECT) {
        if (tag_is_one_of(b.s + q, k - q, SPECIAL_IN_SELECT, special_in_select_letters))
            return -1;
    }
    else if (tag_is_one_of(b.s + q, k - q, SPECIAL, special_letters)) {
        if (is_one_of(b.s + q, k - q, PLAIN_RAW))
            return whole_element_end(b, q, k, 0);
        if (is_one_of(b.s + q, k - q, SCRIPT))
            return whole_element_end(b, q, k, 1);
        return -1;
    }
    if (b.s[k] == '>')
        return k + 1;
    return attributes_then_end(b, k, is_one_of(b.s + q, k - q, A_AREA) ? PING : FETCH);
}

/* _end_tags(...) at q, the letter after "</". */
static Py_ssize_t
end_tag_end(Buf b, Py_ssize_t q, int kind)
{
    Py_ssize_t k = until_class(b, q + 1, C_TAG_STOP);
    if (kind == KIND_BODY && k < b.n && is_one_of(b.s + q, k - q, BODY))
        return -1;
    if (kind == KIND_SELECT && k < b.n &&
        tag_is_one_of(b.s + q, k - q, END_IN_SELECT, end_in_select_letters))
        return -1;
    if (k < b.n && b.s[k] == '>')
        return k + 1;
    return attributes_then_end(b, k, NULL);
}

/* _COMMENT_REST at q, the "!" of "<!--". */
static Py_ssize_t
comment_end(Buf b, Py_ssize_t q)
{
    Py_ssize_t r = q + 3;
    if (r < b.n && b.s[r] == '>')
        return r + 1;
    if (r + 1 < b.n && b.s[r] == '-' && b.s[r + 1] == '>')
        return r + 2;
    /* The first "--" followed by ">" or "!>". */
    for (Py_ssize_t k = find_byte(b, r, '-'); k >= 0; k = find_byte(b, k + 1, '-')) {
        if (k + 2 < b.n && b.s[k + 1] == '-') {
            if (b.s[k + 2] == '>')
                return k + 3;
            if (b.s[k + 2] == '!' && k + 3 < b.n && b.s[k + 3] == '>')
                return k + 4;
        }
    }
    return -1;
}

/* Where the construct at b.s[p] == "<" ends when the regex of kind skips it, else -1. */
static Py_ssize_t
construct_end(Buf b, Py_ssize_t p, int kind)
{
    Py_ssize_t q = p + 1;
    if (q >= b.n)
        return -1;
    uchar c = b.s[q];
    if (CLS[c] & C_ALPHA)
        return kind == KIND_ALL ? -1 : start_tag_end(b, q, kind);
    switch (c) {
    case '/':
        if (q + 1 < b.n && (CLS[b.s[q + 1]] & C_ALPHA))
            return kind == KIND_ALL ? -1 : end_tag_end(b, q + 1, kind);
        return up_to_gt(b, q + 1);
    case '!':
        if (q + 2 < b.n && b.s[q + 1] == '-' && b.s[q + 2] == '-')
            return comment_end(b, q);
        if (b.n - (q + 1) >= 7 && memcmp(b.s + q + 1, "[CDATA[", 7) == 0)
            return -1;
        return up_to_gt(b, q + 1);
    case '?':
        return up_to_gt(b, q + 1);
    default:
        return q; /* a "<" that is text */
    }
}

static Py_ssize_t
scan(Buf b, Py_ssize_t p, int kind)
{
    while (p < b.n) {
        if (b.s[p] != '<') {
            p = find_byte(b, p, '<');
            if (p < 0)
                return b.n;
        }
        Py_ssize_t e = construct_end(b, p, kind);
        if (e < 0)
            return p;
        p = e;
    }
    return p;
}

/* _INLINE_SCRIPT at p: where it ends, its text in [*text_start, *text_end); else -1. */
static Py_ssize_t
inline_script_end(Buf b, Py_ssize_t p, Py_ssize_t *text_start, Py_ssize_t *text_end)
{
    Py_ssize_t k = p + 7; /* after "<script" */
    if (k >= b.n || b.s[p] != '<' || !(CLS[b.s[k]] & C_TAG_STOP) ||
        !is_one_of(b.s + p + 1, 6, SCRIPT))
        return -1;
    /* Boring attributes, none of them src or type, then _TAG_END. */
    Py_ssize_t s;
    for (Py_ssize_t x = k;;) {
        Py_ssize_t r = skip_class(b, x, C_WS_SLASH);
        Py_ssize_t e = plain_attr_end(b, r, FETCH_TYPE);
        if (e < 0 && r < b.n && LOWER(b.s[r]) != 's')
            e = relative_attr_end(b, r);
        if (e < 0) {
            if (r >= b.n || b.s[r] != '>')
                return -1;
            s = r + 1;
            break;
        }
        x = e;
    }
    *text_start = s;
    return text_then_end_tag(b, s, (const uchar *)"script", 6, 1, text_end);
}

/* The (data, pos, ...) arguments of fn: data as a Buf, pos as given; -1 with an exception. */
static int
data_and_pos(const char *fn, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, Buf *b,
             Py_ssize_t *pos)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", fn, want,
                     nargs);
        return -1;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s() data must be bytes, not %.200s", fn,
                     Py_TYPE(args[0])->tp_name);
        return -1;
    }
    *pos = PyNumber_AsSsize_t(args[1], NULL); /* clipped, not OverflowError */
    if (*pos == -1 && PyErr_Occurred())
        return -1;
    b->s = (const uchar *)PyBytes_AS_STRING(args[0]);
    b->n = PyBytes_GET_SIZE(args[0]);
    return 0;
}

PyDoc_STRVAR(inline_script_doc,
             "inline_script(data, pos, /)\n--\n\n"
             "An inline script element at pos as consentgate.scanner._INLINE_SCRIPT matches\n"
             "it: (text start, text end, end), or None.");

static PyObject *
inline_script(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Buf b;
    Py_ssize_t pos;
    if (data_and_pos("inline_script", args, nargs, 2, &b, &pos) < 0)
        return NULL;
    if (pos < 0 || pos >= b.n)
        Py_RETURN_NONE;
    Py_ssize_t start = 0, end_ = 0;
    Py_ssize_t end = inline_script_end(b, pos, &start, &end_);
    if (end < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(nnn)", start, end_, end);
}

PyDoc_STRVAR(boring_end_doc,
             "boring_end(data, pos, kind, /)\n--\n\n"
             "Where the boring bytes of data from pos end: exactly\n"
             "(_RX_ALL, _RX_BODY, _RX_PLAIN, _RX_SELECT)[kind].match(data, pos).end() of\n"
             "consentgate.scanner. pos is clamped to [0, len(data)] as re does.");

static PyObject *
boring_end(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Buf b;
    Py_ssize_t pos;
    if (data_and_pos("boring_end", args, nargs, 3, &b, &pos) < 0)
        return NULL;
    long kind = PyLong_AsLong(args[2]);
    if (kind == -1 && PyErr_Occurred())
        return NULL;
    if (kind < KIND_ALL || kind > KIND_SELECT) {
        PyErr_Format(PyExc_ValueError, "boring_end() kind must be 0, 1, 2 or 3, not %ld",
                     kind);
        return NULL;
    }
    if (pos < 0)
        pos = 0;
    else if (pos > b.n)
        pos = b.n;
    return PyLong_FromSsize_t(scan(b, pos, (int)kind));
}

static PyMethodDef methods[] = {
    {"boring_end", (PyCFunction)(void (*)(void))boring_end, METH_FASTCALL, boring_end_doc},
    {"inline_script", (PyCFunction)(void (*)(void))inline_script, METH_FASTCALL,
     inline_script_doc},
    {NULL, NULL, 0, NULL}};

static PyModuleDef_Slot slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "consentgate._scanfast",
    .m_doc = "The HTML scanner's skip over boring bytes, in C (see consentgate.scanner).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__scanfast(void)
{
    special_letters = letters_of(SPECIAL);
    special_in_select_letters = letters_of(SPECIAL_IN_SELECT);
    end_in_select_letters = letters_of(END_IN_SELECT);
    return PyModuleDef_Init(&module_def);
}
