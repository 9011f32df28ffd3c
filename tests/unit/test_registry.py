import pytest

from xrec_bench.registry import Registry, UnknownNameError


def test_register_get_and_did_you_mean():
    reg: Registry[int] = Registry("widget")
    reg.register("alpha", 1)

    @reg.register("beta")
    def beta():
        return 2

    assert reg.get("alpha") == 1
    assert reg.get("beta") is beta
    assert reg.names() == ["alpha", "beta"]
    with pytest.raises(UnknownNameError) as err:
        reg.get("alpah")
    assert "Unknown widget 'alpah'" in str(err.value)
    assert "Did you mean: alpha?" in str(err.value)


def test_duplicates_refused():
    reg: Registry[int] = Registry("widget")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 2)


def test_lazy_entry_imported_on_get():
    reg: Registry[object] = Registry("thing")
    reg.register("dumps", "json:dumps")
    import json

    assert reg.get("dumps") is json.dumps
