import pytest

from domain.errors import InvalidRequest
from domain.patch import JSON_PATCH, MERGE, Patch, merge_patch

CUSTOMER = {
    "id": "42",
    "name": "Alice",
    "status": "Approved",
    "engagedParty": {"id": "p1", "name": "Alice Liddell"},
    "contactMedium": [{"mediumType": "email"}, {"mediumType": "phone"}],
}


def json_patch(*operations):
    return Patch(JSON_PATCH, list(operations))


class TestMergePatch:
    """RFC 7386, including the examples of its appendix A."""

    @pytest.mark.parametrize(
        ("target", "patch", "result"),
        [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
            ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
            ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            (["a", "b"], ["c", "d"], ["c", "d"]),
            ({"a": "b"}, ["c"], ["c"]),
            ({"a": "foo"}, None, None),
            ({"a": "foo"}, "bar", "bar"),
            ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
            ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ],
    )
    def test_follows_the_rfc_examples(self, target, patch, result):
        assert merge_patch(target, patch) == result

    def test_null_removes_a_nested_key_and_keeps_its_siblings(self):
        patched = Patch(MERGE, {"engagedParty": {"name": None}}).apply(CUSTOMER)
        assert patched["engagedParty"] == {"id": "p1"}

    def test_a_list_is_replaced_whole(self):
        patched = Patch(MERGE, {"contactMedium": [{"mediumType": "fax"}]}).apply(CUSTOMER)
        assert patched["contactMedium"] == [{"mediumType": "fax"}]

    def test_leaves_the_target_untouched(self):
        target = {"a": {"b": [1], "c": 2}, "d": 3}
        merge_patch(target, {"a": {"b": None, "c": 3}, "d": None})
        assert target == {"a": {"b": [1], "c": 2}, "d": 3}

    def test_does_not_share_values_with_the_patch(self):
        document = {"a": {"b": [1]}}
        patched = merge_patch({}, document)
        patched["a"]["b"].append(2)
        assert document == {"a": {"b": [1]}}

    def test_touches_the_top_level_keys_it_names(self):
        patch = Patch(MERGE, {"name": "Bob", "engagedParty": {"name": None}})
        assert patch.touched_attributes() == {"name", "engagedParty"}

    @pytest.mark.parametrize("document", [["name"], "Bob", None, 3])
    def test_must_be_an_object(self, document):
        with pytest.raises(InvalidRequest, match="must be a JSON object"):
            Patch(MERGE, document).touched_attributes()


class TestJsonPatch:
    def test_add(self):
        patched = json_patch({"op": "add", "path": "/statusReason", "value": "fraud"}).apply(
            CUSTOMER
        )
        assert patched["statusReason"] == "fraud"

    def test_add_appends_to_a_list(self):
        patched = json_patch(
            {"op": "add", "path": "/contactMedium/-", "value": {"mediumType": "fax"}}
        ).apply(CUSTOMER)
        assert [m["mediumType"] for m in patched["contactMedium"]] == ["email", "phone", "fax"]

    def test_remove(self):
        patched = json_patch({"op": "remove", "path": "/engagedParty/name"}).apply(CUSTOMER)
        assert patched["engagedParty"] == {"id": "p1"}

    def test_replace(self):
        patched = json_patch({"op": "replace", "path": "/name", "value": "Bob"}).apply(CUSTOMER)
        assert patched["name"] == "Bob"

    def test_move(self):
        patched = json_patch({"op": "move", "from": "/name", "path": "/statusReason"}).apply(
            CUSTOMER
        )
        assert "name" not in patched
        assert patched["statusReason"] == "Alice"

    def test_copy(self):
        patched = json_patch({"op": "copy", "from": "/engagedParty/name", "path": "/name"}).apply(
            CUSTOMER
        )
        assert patched["name"] == "Alice Liddell"
        assert patched["engagedParty"]["name"] == "Alice Liddell"

    def test_a_passing_test_lets_the_following_operations_apply(self):
        patched = json_patch(
            {"op": "test", "path": "/status", "value": "Approved"},
            {"op": "replace", "path": "/status", "value": "Suspended"},
        ).apply(CUSTOMER)
        assert patched["status"] == "Suspended"

    def test_a_failing_test_is_refused_and_nothing_applies(self):
        original = {"status": "Approved", "name": "Alice"}
        with pytest.raises(InvalidRequest, match="cannot be applied"):
            json_patch(
                {"op": "replace", "path": "/name", "value": "Bob"},
                {"op": "test", "path": "/status", "value": "Suspended"},
            ).apply(original)
        assert original == {"status": "Approved", "name": "Alice"}

    def test_leaves_the_target_untouched(self):
        target = {"name": "Alice", "tags": ["a"]}
        json_patch({"op": "add", "path": "/tags/-", "value": "b"}).apply(target)
        assert target == {"name": "Alice", "tags": ["a"]}

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "remove", "path": "/nickname"},
            {"op": "replace", "path": "/nickname", "value": "x"},
            {"op": "add", "path": "/contactMedium/7", "value": {}},
            {"op": "move", "from": "/nickname", "path": "/name"},
        ],
    )
    def test_a_path_that_does_not_exist_is_refused(self, operation):
        with pytest.raises(InvalidRequest):
            json_patch(operation).apply(CUSTOMER)

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "jump", "path": "/name"},
            {"path": "/name", "value": "Bob"},
            {"op": "add", "path": "/name"},
            {"op": "move", "path": "/name"},
        ],
    )
    def test_a_malformed_operation_is_refused(self, operation):
        with pytest.raises(InvalidRequest):
            json_patch(operation).apply(CUSTOMER)

    def test_must_leave_an_object(self):
        with pytest.raises(InvalidRequest, match="JSON object"):
            json_patch({"op": "replace", "path": "", "value": ["not", "an", "object"]}).apply(
                CUSTOMER
            )


class TestTouchedAttributes:
    def test_are_the_first_segments_of_the_written_paths(self):
        patch = json_patch(
            {"op": "add", "path": "/engagedParty/name", "value": "x"},
            {"op": "remove", "path": "/contactMedium/0"},
            {"op": "replace", "path": "/name", "value": "Bob"},
        )
        assert patch.touched_attributes() == {"engagedParty", "contactMedium", "name"}

    def test_a_test_operation_touches_nothing(self):
        patch = json_patch({"op": "test", "path": "/id", "value": "42"})
        assert patch.touched_attributes() == set()

    def test_a_move_touches_where_it_takes_from_and_where_it_puts(self):
        patch = json_patch({"op": "move", "from": "/statusReason", "path": "/name"})
        assert patch.touched_attributes() == {"statusReason", "name"}

    def test_a_copy_touches_only_where_it_puts(self):
        patch = json_patch({"op": "copy", "from": "/id", "path": "/name"})
        assert patch.touched_attributes() == {"name"}

    def test_escaped_pointer_segments_are_decoded(self):
        patch = json_patch(
            {"op": "add", "path": "/a~1b/c", "value": 1},
            {"op": "add", "path": "/m~0n", "value": 1},
        )
        assert patch.touched_attributes() == {"a/b", "m~n"}

    def test_the_empty_pointer_stands_for_the_whole_document(self):
        patch = json_patch({"op": "replace", "path": "", "value": {}})
        assert patch.touched_attributes() == {""}

    def test_a_path_that_is_not_a_pointer_is_refused(self):
        with pytest.raises(InvalidRequest, match="not a JSON pointer"):
            json_patch({"op": "replace", "path": "name", "value": "Bob"}).touched_attributes()
