"""Cookbooks: what they hold on disk, how a stack finds them, how attributes merge."""

from runner.cookbooks.attributes import merge_attributes
from runner.cookbooks.cookbook import Cookbook, load_cookbook
from runner.cookbooks.cookbook_set import CookbookSet, RecipeRef, split_recipe

__all__ = [
    "Cookbook",
    "CookbookSet",
    "RecipeRef",
    "load_cookbook",
    "merge_attributes",
    "split_recipe",
]
