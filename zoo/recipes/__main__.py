"""`python -m zoo.recipes`: the recipes, one line each, and how to run one."""

from zoo import recipes


def main():
    width = max(len(name) for name in recipes.names())
    print("Recipes (run one: python -m zoo.recipes.<name> --helpshort):")
    for name in recipes.names():
        print(f"  {name:<{width}}  {recipes.summary(name)}")


if __name__ == "__main__":
    main()
