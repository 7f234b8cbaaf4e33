"""Every number of a CRUSH map's text is checked against Ceph's own bounds (32-bit ids and step
arguments, 16-bit types, 8-bit rule sizes, 16.16 weights, tunables by their field's width): out of
range is a CrushTextError naming the line, never a ValueError (Python converts at most 4300 digits)
and never a number that a msgpack frame cannot carry or that crushtool would silently truncate."""

import re

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calamari.crush.model import CrushTextError
from calamari.crush.text_parse import parse_crush_text

BASE = """tunable choose_total_tries 50
tunable chooseleaf_vary_r 1
device 0 osd.0 class hdd
device 1 osd.1 class hdd
type 0 osd
type 1 host
type 11 root
host h1 {
\tid -2
\tid -3 class hdd
\talg straw2
\thash 0
\titem osd.0 weight 1.000
\titem osd.1 weight 1.000
}
root default {
\tid -1
\tid -4 class hdd
\talg straw2
\thash 0
\titem h1 weight 2.000
}
rule replicated_rule {
\tid 0
\ttype replicated
\tmin_size 1
\tmax_size 10
\tstep set_choose_tries 100
\tstep take default class hdd
\tstep chooseleaf firstn 0 type host
\tstep emit
}
choose_args 18446744073709551615 {
  {
    bucket_id -2
    weight_set [
      [ 1.000 1.000 ]
    ]
    ids [ 0 1 ]
  }
}
"""

HUGE = "9" * 5000  # more digits than Python's int() converts
NEGATIVE_HUGE = "-99999999999999999999999"  # beyond 64 bits: no msgpack frame can carry it


def errors_of(text: str) -> list[str]:
    with pytest.raises(CrushTextError) as err:
        parse_crush_text(text)
    return err.value.errors


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_base_map_is_valid():
    parsed = parse_crush_text(BASE)
    assert parsed.tunables == {"choose_total_tries": 50, "chooseleaf_vary_r": 1}
    assert parsed.choose_args[-1][0].ids == [0, 1]


# (the text to replace, a template with {} for the number, a value out of Ceph's bounds)
OUT_OF_RANGE = [
    ("\tid -2\n", "\tid {}\n", NEGATIVE_HUGE),
    ("\tid -2\n", "\tid {}\n", HUGE),
    ("\tid -2\n", "\tid {}\n", "-2147483649"),  # below int32
    ("\tid -2\n", "\tid {}\n", "-1000000"),  # int32, but a slot per id down to it: refused as a typo
    ("\tid -3 class", "\tid {} class", NEGATIVE_HUGE),
    ("device 1 osd.1", "device {} osd.1", "2147483646"),  # CRUSH_ITEM_UNDEF
    ("device 1 osd.1", "device {} osd.1", HUGE),
    ("type 1 host", "type {} host", "65536"),  # a bucket's type is 16-bit
    ("\tid 0\n", "\tid {}\n", "256"),  # CRUSH_MAX_RULES
    ("\tid 0\n", "\tid {}\n", NEGATIVE_HUGE),
    ("min_size 1", "min_size {}", "256"),  # 8-bit
    ("max_size 10", "max_size {}", "300"),  # crushtool would make it 44
    ("max_size 10", "max_size {}", HUGE),
    ("chooseleaf firstn 0", "chooseleaf firstn {}", "99999999999"),  # crushtool would wrap it
    ("chooseleaf firstn 0", "chooseleaf firstn {}", NEGATIVE_HUGE),
    ("set_choose_tries 100", "set_choose_tries {}", "2147483648"),
    ("tunable choose_total_tries 50", "tunable choose_total_tries {}", "-1"),
    ("tunable choose_total_tries 50", "tunable choose_total_tries {}", HUGE),
    ("tunable chooseleaf_vary_r 1", "tunable chooseleaf_vary_r {}", "256"),  # 8-bit
    ("choose_args 18446744073709551615", "choose_args {}", "18446744073709551616"),  # beyond 64 bits
    ("bucket_id -2", "bucket_id {}", NEGATIVE_HUGE),
    ("ids [ 0 1 ]", "ids [ 0 {} ]", "2147483648"),
    ("item osd.1 weight 1.000", "item osd.1 weight 1.000 pos {}", HUGE),
    ("item h1 weight 2.000", "item h1 weight {}", "65536"),  # CRUSH_MAX_BUCKET_WEIGHT
    ("item h1 weight 2.000", "item h1 weight {}", "1e999"),
    ("[ 1.000 1.000 ]", "[ 1.000 {} ]", "70000"),
    ("[ 1.000 1.000 ]", "[ 1.000 {} ]", "-1"),
]


@pytest.mark.parametrize("old, template, value", OUT_OF_RANGE)
def test_a_number_out_of_cephs_bounds_is_refused_naming_its_line(old, template, value):
    assert old in BASE
    text = BASE.replace(old, template.format(value), 1)
    errors = errors_of(text)
    line = line_of(text, template.format(value).strip())
    assert len(errors) == 1 and errors[0].startswith(f"line {line}: "), errors
    assert len(errors[0]) < 300  # thousands of digits are not echoed back


@pytest.mark.parametrize("old, new", [
    ("\tid -3 class", "\tid -65536 class"),
    ("device 1 osd.1", "device 2147483645 osd.1"),
    ("type 1 host", "type 65535 host"),
    ("\tid 0\n", "\tid 255\n"),
    ("max_size 10", "max_size 255"),
    ("chooseleaf firstn 0", "chooseleaf firstn -2147483648"),
    ("tunable chooseleaf_vary_r 1", "tunable chooseleaf_vary_r 255"),
    ("item h1 weight 2.000", "item h1 weight 65535"),
    ("\tid 0\n", "\tid 0000000000000000000000000000000000000000000000000000000000000\n"),  # zeros are no digits
])
def test_the_bounds_themselves_are_accepted(old, new):
    parse_crush_text(BASE.replace(old, new, 1))


def test_positions_must_be_within_the_bucket_and_distinct():
    text = BASE.replace("osd.0 weight 1.000", "osd.0 weight 1.000 pos 2")
    assert "beyond the bucket's 2 items" in errors_of(text)[0]
    text = BASE.replace("osd.0 weight 1.000", "osd.0 weight 1.000 pos 1").replace(
        "osd.1 weight 1.000", "osd.1 weight 1.000 pos 1")
    (error,) = errors_of(text)
    assert error.startswith(f"line {line_of(text, 'osd.1 weight')}: pos 1 is taken")
    parse_crush_text(BASE.replace("osd.0 weight 1.000", "osd.0 weight 1.000 pos 1").replace(
        "osd.1 weight 1.000", "osd.1 weight 1.000 pos 0"))


def test_a_bucket_heavier_than_32_bits_is_refused():
    # two 65535 items overflow the bucket's 16.16 sum (crushtool: "bucket weights are overflowing")
    text = BASE.replace("type 11 root", "type 2 rack\ntype 11 root").replace(
        "root default {", "host h2 {\n\tid -5\n\talg straw2\n\thash 0\n}\nrack r1 {\n\tid -6\n\talg straw2\n\thash 0\n"
        "\titem h1 weight 65535\n\titem h2 weight 65535\n}\nroot default {").replace(
        "\titem h1 weight 2.000\n", "\titem r1\n")
    errors = errors_of(text)
    assert any(e.startswith(f"line {line_of(text, 'rack r1')}: bucket r1 weighs") for e in errors), errors


NUMBER = re.compile(r"(?<![\w.-])-?\d+(?:\.\d+)?(?![\w.])")


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_any_integer_in_any_numeric_place_is_parsed_in_bounds_or_refused_with_a_line(data):
    places = list(NUMBER.finditer(BASE))
    place = data.draw(st.sampled_from(places))
    value = data.draw(st.one_of(
        st.integers(min_value=-(1 << 70), max_value=1 << 70),
        st.integers(min_value=-300, max_value=300),
        st.sampled_from([HUGE, "-" + HUGE, "0" * 4400 + "1"]).map(str),
    ))
    text = BASE[:place.start()] + str(value) + BASE[place.end():]
    try:
        parsed = parse_crush_text(text)
    except CrushTextError as err:
        assert err.errors and all(re.match(r"line \d+: ", e) and len(e) < 1200 for e in err.errors), err.errors
        return
    # whatever parses fits a msgpack frame (what the simulator sends back) and Ceph's widest field
    numbers = [parsed.tunables, [(d.id,) for d in parsed.devices], [(t.id,) for t in parsed.types],
               [(b.id, list(b.class_ids.values()), [(i.pos, i.weight_fixed) for i in b.items], b.weight_fixed)
                for b in parsed.buckets],
               [(r.id, r.min_size, r.max_size, [s.num for s in r.steps]) for r in parsed.rules],
               [(k, [(a.bucket_id, a.ids) for a in v]) for k, v in parsed.choose_args.items()]]
    msgpack.packb(numbers)


def test_a_long_name_is_refused_without_echoing_it():
    text = BASE.replace("host h1 {", f"host {'h' * 5000} {{")
    (error,) = errors_of(text)
    assert error.startswith(f"line {line_of(text, 'hhhh')}: ") and len(error) < 200


WORD = re.compile(r"[^\s{}\[\]]+")


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_any_word_replaced_by_anything_parses_or_is_refused_with_short_reasons(data):
    place = data.draw(st.sampled_from(list(WORD.finditer(BASE))))
    word = data.draw(st.one_of(st.text(max_size=30), st.text(alphabet="0123456789-.eE", min_size=1, max_size=60),
                               st.sampled_from(["9" * 6000, "x" * 6000, "-0", "1e999", "nan", "inf"])))
    text = BASE[:place.start()] + word + BASE[place.end():]
    try:
        parse_crush_text(text)
    except CrushTextError as err:
        assert err.errors and all(re.match(r"line \d+: ", e) and len(e) < 1200 for e in err.errors), err.errors
