"""Analysis engines answering in Amazon Rekognition's response schema, plus the result cache."""
