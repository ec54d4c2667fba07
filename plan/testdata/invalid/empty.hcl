safety_level = "strict"
