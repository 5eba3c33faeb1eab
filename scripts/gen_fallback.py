#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes config/fallback_products.json: the static catalog retail-api serves
when neither its cache nor Shopify can answer. Deterministic: the same seed
writes the same file. The products are invented; image URLs use the reserved
example.com domain.

usage: scripts/gen_fallback.py [--count N] [--seed S] [--out FILE]
"""
import argparse
import json
import random
import re

CATALOG = {
    "Apparel": {
        "vendors": ["Northwind Outfitters", "Harbor & Pine", "Lumen Basics"],
        "items": ["Crew Neck T-Shirt", "Oxford Shirt", "Hooded Sweatshirt", "Chino Trousers",
                  "Rain Jacket", "Wool Sweater", "Linen Shirt", "Denim Jacket", "Puffer Vest"],
        "options": ["S", "M", "L", "XL"],
        "price": (14, 120),
        "tags": ["cotton", "everyday", "organic", "unisex", "new-arrival"],
    },
    "Footwear": {
        "vendors": ["Stride Lab", "Trailmark"],
        "items": ["Running Shoes", "Leather Boots", "Canvas Sneakers", "Trail Runners",
                  "Slip-On Loafers", "Hiking Boots", "Sandals"],
        "options": ["38", "40", "42", "44"],
        "price": (29, 180),
        "tags": ["waterproof", "breathable", "vegan", "lightweight"],
    },
    "Home & Kitchen": {
        "vendors": ["Casa Verde", "Copper Kettle Co."],
        "items": ["Chef's Knife", "Cast Iron Skillet", "French Press", "Ceramic Mug Set",
                  "Linen Tablecloth", "Bamboo Cutting Board", "Glass Storage Jars",
                  "Espresso Cups"],
        "options": ["Default Title"],
        "price": (9, 150),
        "tags": ["kitchen", "gift", "dishwasher-safe", "handmade"],
    },
    "Electronics": {
        "vendors": ["Voltline", "Arcwave Audio"],
        "items": ["Wireless Earbuds", "Bluetooth Speaker", "USB-C Charger", "Power Bank",
                  "Smart Plug", "Noise-Cancelling Headphones", "Webcam", "Mechanical Keyboard"],
        "options": ["Black", "White"],
        "price": (12, 300),
        "tags": ["wireless", "usb-c", "bestseller", "warranty-2y"],
    },
    "Beauty": {
        "vendors": ["Petal & Stone", "Glow Theory"],
        "items": ["Face Serum", "Hand Cream", "Lip Balm", "Shampoo Bar", "Body Lotion",
                  "Clay Mask", "Sunscreen SPF 50"],
        "options": ["50 ml", "100 ml"],
        "price": (6, 60),
        "tags": ["cruelty-free", "fragrance-free", "refillable", "travel-size"],
    },
    "Sports & Outdoors": {
        "vendors": ["Summit Gear", "Trailmark"],
        "items": ["Yoga Mat", "Insulated Water Bottle", "Daypack 20L", "Camping Lantern",
                  "Resistance Bands", "Trekking Poles", "Sleeping Bag"],
        "options": ["Default Title"],
        "price": (10, 220),
        "tags": ["outdoor", "recycled", "camping", "fitness"],
    },
    "Toys": {
        "vendors": ["Little Harbor", "Brightblock"],
        "items": ["Wooden Train Set", "Building Blocks", "Plush Bear", "Puzzle 500 Pieces",
                  "Kite", "Board Game"],
        "options": ["Default Title"],
        "price": (8, 80),
        "tags": ["ages-3-plus", "wooden", "family", "educational"],
    },
    "Books": {
        "vendors": ["Quiet Press"],
        "items": ["Field Guide to Birds", "Sourdough Baking", "City Walks", "Weekend Woodworking",
                  "Houseplant Care", "Night Sky Atlas"],
        "options": ["Paperback", "Hardcover"],
        "price": (11, 45),
        "tags": ["paperback", "illustrated", "staff-pick"],
    },
    "Grocery": {
        "vendors": ["Field & Mill", "Roast Republic"],
        "items": ["Whole Bean Coffee", "Loose Leaf Tea", "Olive Oil", "Dark Chocolate Bar",
                  "Wildflower Honey", "Granola"],
        "options": ["250 g", "500 g"],
        "price": (4, 35),
        "tags": ["organic", "fair-trade", "gluten-free", "local"],
    },
    "Accessories": {
        "vendors": ["Harbor & Pine", "Keystone Leather"],
        "items": ["Leather Wallet", "Canvas Tote", "Wool Beanie", "Sunglasses", "Belt",
                  "Watch Strap"],
        "options": ["Brown", "Black", "Navy"],
        "price": (12, 140),
        "tags": ["leather", "gift", "handmade", "limited"],
    },
}

ADJECTIVES = ["Classic", "Essential", "Premium", "Everyday", "Heritage", "Modern", "Compact",
              "Deluxe", "Original", "Signature"]


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def price_text(rng, low, high):
    # Retail-style prices that end in .99, .95, .50 or .00, as decimal text.
    whole = rng.randint(low, high)
    cents = rng.choice([99, 95, 50, 0, 99, 49])
    return whole, cents


def as_number(whole, cents):
    # 29.99 as a JSON number; json.dumps writes the shortest repr, so 29.99 stays 29.99.
    return round(whole + cents / 100.0, 2)


def make(count, seed):
    rng = random.Random(seed)
    categories = list(CATALOG)
    products = []
    base_id = 8_100_000_000_000
    for n in range(count):
        category = categories[n % len(categories)]
        spec = CATALOG[category]
        item = spec["items"][(n // len(categories)) % len(spec["items"])]
        adjective = ADJECTIVES[rng.randrange(len(ADJECTIVES))]
        title = f"{adjective} {item}"
        vendor = rng.choice(spec["vendors"])
        product_id = base_id + n * 7919
        whole, cents = price_text(rng, *spec["price"])
        variants = []
        total = 0
        for k, option in enumerate(spec["options"]):
            quantity = rng.choice([0, 3, 7, 12, 25, 40, 60])
            step = 0 if option in ("S", "M", "Default Title") else k
            total += quantity
            variants.append({
                "id": str(product_id * 10 + k + 1),
                "title": option,
                "sku": f"{slug(vendor)[:4].upper()}-{n:03d}-{k + 1}",
                "price": as_number(whole + step, cents),
                "inventory_quantity": quantity,
            })
        lowest = min(v["price"] for v in variants)
        on_sale = rng.random() < 0.25
        tags = sorted(rng.sample(spec["tags"], 2))
        products.append({
            "id": str(product_id),
            "title": title,
            "handle": slug(title) + f"-{n + 1}",
            "description": f"<p>{title} from {vendor}. A dependable pick in {category.lower()}.</p>",
            "vendor": vendor,
            "category": category,
            "tags": tags,
            "status": "active",
            "price": lowest,
            "compare_at_price": as_number(whole + max(5, whole // 4), cents) if on_sale else None,
            "currency": "USD",
            "image_url": f"https://cdn.example.com/products/{slug(title)}-{n + 1}.jpg",
            "in_stock": total > 0,
            "inventory_quantity": total,
            "variants": variants,
        })
    return products


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20251204)
    parser.add_argument("--out", default="config/fallback_products.json")
    args = parser.parse_args()
    products = make(args.count, args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(products, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(products)} products to {args.out}")


if __name__ == "__main__":
    main()
