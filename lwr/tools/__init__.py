"""Tools: the toolbox, tool-based authorization, validators and dependency resolution."""
from lwr.tools.toolbox import ToolBox

__all__ = ["ToolBox"]
