"""Message tests (メッセージテスト): a clinic's ad, leaflet or web copy read by personas; each reacts in character
with a structured, validated answer; a summary says what would make them book."""
