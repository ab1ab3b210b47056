"""Search strategies behind one ask/tell interface, and Pareto utilities."""

from shinka.search.base import Proposal, Strategy, make_strategy

__all__ = ["Proposal", "Strategy", "make_strategy"]
