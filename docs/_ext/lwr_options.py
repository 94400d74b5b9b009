"""``.. lwr-options:: NAME``: a table of the options LWR declares (see ``lwr/options.py``).

NAME is ``server`` (``[server:main]`` of ``egg:lwr#server``), ``app`` (``[app:main]``),
``manager`` (the options of every manager type) or ``manager TYPE``: the options of that
type which every type does not share.  The table is written from the same declarations
that validate the configuration, so it lists exactly what the server accepts.
"""
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


def option_set(argument):
    words = argument.split()
    if words == ["server"]:
        from lwr.web.server_options import SERVER_OPTIONS
        return list(SERVER_OPTIONS)
    if words == ["app"]:
        from lwr.app_options import APP_OPTIONS
        return list(APP_OPTIONS)
    from lwr.managers.options import COMMON_OPTIONS, MANAGER_OPTIONS
    if words == ["manager"]:
        return list(COMMON_OPTIONS)
    if len(words) == 2 and words[0] == "manager" and words[1] in MANAGER_OPTIONS:
        common = {o.name: o for o in COMMON_OPTIONS}
        return [o for o in MANAGER_OPTIONS[words[1]] if common.get(o.name) is not o]
    raise ValueError("lwr-options: unknown option set %r" % argument)


def _literal(value):
    text = str(value)
    return "``%s``" % text if text else ""


def _default(option):
    if option.deprecated:
        return "accepted, ignored"
    if option.default is None:
        return "unset"
    if isinstance(option.default, bool):
        return _literal("true" if option.default else "false")
    return _literal(option.default)


def table_lines(options):
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 20 15 40", "",
             "   * - Option", "     - Value", "     - Default", "     - Meaning"]
    for option in options:
        doc = option.doc.replace("*", "\\*")
        if option.deprecated:
            doc += " (%s: accepted for old configurations and ignored.)" % option.deprecated
        lines += ["   * - ``%s``" % option.display_name, "     - %s" % option.kind.expected.replace("*", "\\*"),
                  "     - %s" % _default(option), "     - %s" % doc]
    return lines


class LwrOptionsDirective(Directive):
    required_arguments = 1
    final_argument_whitespace = True
    has_content = False

    def run(self):
        try:
            options = option_set(self.arguments[0])
        except ValueError as exc:
            raise self.error(str(exc))
        container = StringList(table_lines(options), source="lwr-options %s" % self.arguments[0])
        from docutils import nodes
        node = nodes.container()
        self.state.nested_parse(container, self.content_offset, node)
        return node.children


def setup(app):
    app.add_directive("lwr-options", LwrOptionsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
